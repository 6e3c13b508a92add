"""``envalert hj212``: an asyncio TCP server for HJ 212-2017 data loggers, publishing to MQTT.

Each connection has its own frame reader, so a station's garbage never touches another's data.
A data frame is answered (9014, when its Flag asks) only once the broker acked its reading: a
logger that gets no answer sends again, so nothing is lost between the logger and MQTT.

The port faces the network (docs/SECURITY.md): connections are capped per address and in all,
a failed sign-in closes the connection after a delay and counts toward the address's lockout,
every frame must arrive whole within a deadline, and what strangers can make us log is
rate-limited and never holds a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envalert.core.contract import topic_for
from envalert.core.guard import AddressGuard, GuardLimits, LogBudget
from envalert.core.secrets import SecretMissingError, expand
from envalert.core.stations import Station
from ingest.hj212.frame import Frame, FrameProblem, FrameReader, build_frame
from ingest.hj212.mapping import DATA_COMMANDS, DEFAULT_FACTORS, UNPUBLISHED_UPLOADS, reading_of
from ingest.hj212.packet import (
    DATA_ANSWER,
    NOTIFICATION_ANSWER,
    Packet,
    PacketError,
    answer,
    joined,
    parse_segment,
)
from ingest.hj212.split import SplitMessages
from ingest.publisher import AckedPublisher, PublishRefusedError, station_payload
from ingest.settings import GatewaySettings

log = logging.getLogger(__name__)

READY = "hj212 gateway ready"
#: Commands a station sends as answers: they are never answered.
ANSWERS = {"9011", "9012", DATA_ANSWER, NOTIFICATION_ANSWER}
#: Seconds to wait for the broker's ack before the frame is left unanswered (the logger resends).
ACK_TIMEOUT = 30.0


class GatewayConfigError(ValueError):
    """A catalogue the gateway cannot use: names the station and the fix."""


@dataclass(frozen=True)
class Logger:
    station: Station
    password: str


def loggers(stations: Mapping[str, Station], environ: Mapping[str, str] | None = None) -> dict[str, Logger]:
    """The stations that connect over HJ 212, by MN, their passwords resolved."""
    env = os.environ if environ is None else environ
    found: dict[str, Logger] = {}
    for station in stations.values():
        if station.hj212 is None:
            continue
        if station.hj212.mn in found:
            other = found[station.hj212.mn].station.id
            raise GatewayConfigError(
                f"stations {other} and {station.id} share MN {station.hj212.mn}; fix: give each its own"
            )
        try:
            password = expand(station.hj212.password, env, Path.cwd())
        except SecretMissingError as error:
            raise GatewayConfigError(f"station {station.id}: hj212.password: {error}") from None
        if not password:
            raise GatewayConfigError(f"station {station.id}: hj212.password is empty; fix: give it one")
        found[station.hj212.mn] = Logger(station, password)
    return found


class SignInFailedError(Exception):
    """A frame with an unknown MN or a wrong password: the connection is closed after a delay."""


class SlowReaderError(Exception):
    """A peer that does not read our answers: the connection is closed."""


@dataclass
class Connection:
    """One logger's connection: who it is, and how far it got."""

    peer: str
    address: str
    opened: float
    #: When the last frame that signed in came: until then the connection has not signed in.
    signed_in_at: float | None = None
    #: When the bytes held for an unfinished frame began to come.
    frame_began: float | None = None
    #: Refusals the log budget left out, by reason: summed up when the connection closes.
    unlogged: Counter[str] = field(default_factory=Counter)
    #: The parts of split messages that have come so far (set when the connection opens).
    split: SplitMessages | None = None

    def deadline(self, settings: GatewaySettings, pending: bool) -> float:
        """When the connection is closed unless a frame that signs in arrives: a new connection
        has ``hj212_frame_seconds`` for its first, a signed-in one ``hj212_idle_seconds`` from
        its last; and the bytes of any one frame must all come within ``hj212_frame_seconds``."""
        if self.signed_in_at is None:
            due = self.opened + settings.hj212_frame_seconds
        else:
            due = self.signed_in_at + settings.hj212_idle_seconds
        if pending and self.frame_began is not None:
            due = min(due, self.frame_began + settings.hj212_frame_seconds)
        return due


#: Refusal lines the whole gateway may log: 5 a second, bursts of 20; the rest are counted.
LOG_RATE, LOG_BURST = 5.0, 20
#: A value that must never reach the log: the data segment's password.
_PASSWORD = re.compile(r"PW=[^;&,'\"\\]*")


def redacted(text: str) -> str:
    return _PASSWORD.sub("PW=***", text)


class Gateway:
    def __init__(
        self, settings: GatewaySettings, stations: Mapping[str, Logger], publisher: AckedPublisher
    ) -> None:
        self.settings, self.stations, self.publisher = settings, stations, publisher
        self.factors = DEFAULT_FACTORS | settings.hj212_factors
        #: What happened to frames, by outcome: published, answered, and each reason for refusal.
        self.counts: Counter[str] = Counter()
        self.guard = AddressGuard(
            GuardLimits(
                max_connections=settings.hj212_max_connections,
                max_per_address=settings.hj212_max_connections_per_address,
                max_failures=settings.hj212_max_sign_in_failures,
                lockout_seconds=settings.hj212_lockout_seconds,
            )
        )
        self._log_budget = LogBudget(LOG_RATE, LOG_BURST)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One logger's connection, until it closes, misses a deadline or the gateway stops."""
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        if (why := self.guard.admit(host)) is not None:
            self.counts["connection_refused"] += 1
            if self._log_budget.allow():
                log.warning("turned away %s: %s", host, why)
            writer.transport.abort()
            return
        loop = asyncio.get_running_loop()
        connection = Connection(peer, host, loop.time())
        connection.split = SplitMessages(self.settings.hj212_frame_seconds, loop.time)
        frames = FrameReader(self.settings.hj212_max_segment)
        log.info("connection from %s", peer)
        try:
            await self._frames(connection, frames, reader, writer)
        except ConnectionError as error:
            log.info("connection from %s broke: %s", peer, error)
        except SignInFailedError:
            await asyncio.sleep(self.settings.hj212_sign_in_delay_seconds)
        except SlowReaderError:
            log.info("closing %s: it does not read the answers", peer)
        except asyncio.CancelledError:
            # The gateway is stopping. The task must not end cancelled: Python 3.11's stream
            # callback then calls task.exception() and logs a traceback (fixed in 3.12).
            log.info("closing %s: the gateway is stopping", peer)
        finally:
            self.guard.release(host)
            if frames.pending():
                self._refused(
                    connection, "incomplete", f"{frames.pending()} byte(s) of an unfinished frame at close"
                )
            if connection.unlogged:
                log.warning(
                    "%d more refusals from %s not logged: %s",
                    connection.unlogged.total(), peer, dict(connection.unlogged),
                )  # fmt: skip
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            log.info("%s disconnected", peer)

    async def _frames(
        self,
        connection: Connection,
        frames: FrameReader,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            left = connection.deadline(self.settings, frames.pending() > 0) - loop.time()
            try:
                data = await asyncio.wait_for(reader.read(65536), max(left, 0))
            except TimeoutError:
                if connection.signed_in_at is None or frames.pending():
                    seconds = self.settings.hj212_frame_seconds
                    log.info("closing %s: no whole frame in %.0f s", connection.peer, seconds)
                else:
                    seconds = self.settings.hj212_idle_seconds
                    log.info("closing %s: nothing for %.0f s", connection.peer, seconds)
                return
            if not data:
                return
            items = frames.feed(data)
            if items or connection.frame_began is None:
                connection.frame_began = loop.time() if frames.pending() else None
            for item in items:
                if isinstance(item, FrameProblem):
                    dropped = redacted(repr(item.dropped[:60]))
                    self._refused(connection, item.reason, f"{item.detail}; dropped {dropped}")
                else:
                    await self._frame(item, connection, writer)

    def _refused(self, connection: Connection, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        if self._log_budget.allow():
            log.warning("refused from %s (%s): %s", connection.peer, reason, redacted(detail))
        else:
            connection.unlogged[reason] += 1

    def _sign_in_failed(self, connection: Connection, reason: str, detail: str) -> None:
        self._refused(connection, reason, detail)
        if self.guard.lockout.failed(connection.address):
            log.warning(
                "%s locked out for %.0f s after %d failed sign-ins",
                connection.address,
                self.settings.hj212_lockout_seconds,
                self.settings.hj212_max_sign_in_failures,
            )
        raise SignInFailedError

    def _packet(self, frame: Frame, connection: Connection) -> tuple[Packet, Logger] | None:
        """The frame's packet and the station it proves to be from; None if the frame is unusable
        (logged); SignInFailedError if it names an unknown MN or a wrong password."""
        if not frame.crc_ok:
            detail = f"CRC {frame.carried!r}, the segment's is {frame.computed}"
            if not self.settings.hj212_accept_bad_crc:
                self._refused(connection, "bad_crc", f"{detail}; frame {frame.segment[:60]!r}")
                return None
            if self._log_budget.allow():
                log.warning(
                    "took a frame from %s with a wrong CRC (%s): ENVALERT_HJ212_ACCEPT_BAD_CRC is on",
                    connection.peer,
                    detail,
                )
        try:
            packet = parse_segment(frame.segment)
        except PacketError as error:
            self._refused(connection, error.reason, f"{error.detail}; frame {frame.segment[:60]!r}")
            return None
        logger = self.stations.get(packet.mn)
        if logger is None:
            self._sign_in_failed(
                connection, "unknown_mn", f"MN {packet.mn[:40]!r} is no station's hj212.mn in the catalogue"
            )
        elif not hmac.compare_digest(logger.password.encode(), packet.pw.encode()):
            self._sign_in_failed(
                connection, "wrong_password", f"wrong PW for MN {packet.mn} ({logger.station.id})"
            )
        else:
            connection.signed_in_at = asyncio.get_running_loop().time()
            self.guard.lockout.succeeded(connection.address)
            return packet, logger
        return None

    async def _frame(self, frame: Frame, connection: Connection, writer: asyncio.StreamWriter) -> None:
        found = self._packet(frame, connection)
        if found is None:
            return
        packet, logger = found
        self._drop_stale_parts(connection)
        parts = [packet]
        if packet.pnum is not None:
            whole = self._whole(packet, len(frame.segment), connection)
            if whole is None:
                return
            packet, parts = whole
        if packet.cn in ANSWERS:
            self.counts["answers"] += 1
            return
        if packet.cn in DATA_COMMANDS and not await self._publish(packet, logger, connection):
            return
        if packet.cn.startswith("2") and packet.cn not in DATA_COMMANDS:
            self.counts["not_published"] += 1
            what = UNPUBLISHED_UPLOADS.get(packet.cn, "an upload envalert does not take")
            log.info(
                "%s: CN=%s (%s) answered, not published: envalert judges real-time, minute and hour data",
                logger.station.id, packet.cn, what,
            )  # fmt: skip
        if not packet.cn.startswith("2"):
            self.counts["notifications"] += 1
        for part in parts:
            if part.wants_answer:
                await self._answer(
                    writer, answer(part, DATA_ANSWER if part.cn.startswith("2") else NOTIFICATION_ANSWER)
                )

    def _drop_stale_parts(self, connection: Connection) -> None:
        assert connection.split is not None
        for mn, qn, come, count in connection.split.dropped():
            seconds = self.settings.hj212_frame_seconds
            detail = (
                f"MN {mn}, QN {qn}: {come} of {count} parts within {seconds:.0f} s "
                "(or too many parts held); none answered"
            )
            self._refused(connection, "incomplete_split", detail)

    def _whole(self, part: Packet, size: int, connection: Connection) -> tuple[Packet, list[Packet]] | None:
        """The message a part of a split packet completes, with all its parts; None until the
        last part has come, or if the parts do not fit together (logged)."""
        assert connection.split is not None
        parts = connection.split.add(part, size)
        if parts is None:
            return None
        try:
            return joined(parts), parts
        except PacketError as error:
            self._refused(
                connection, error.reason, f"{error.detail} (MN {part.mn}, QN {part.qn}); none answered"
            )
            return None

    async def _publish(self, packet: Packet, logger: Logger, connection: Connection) -> bool:
        """Publish the packet's reading; False if it is unusable or the broker did not ack it."""
        try:
            reading, notes = reading_of(packet, logger.station, self.factors)
        except PacketError as error:
            self._refused(connection, error.reason, f"{error.detail} (MN {packet.mn}, QN {packet.qn})")
            return False
        for note in notes:
            log.info("%s: %s", logger.station.id, note)
        if reading is None:
            return True
        try:
            topic = topic_for(reading.kind, reading.station)
            await self.publisher.publish(topic, station_payload(reading), ACK_TIMEOUT)
        except TimeoutError:
            log.error(
                "the broker did not ack %s's reading in %.0f s: left unanswered", reading.station, ACK_TIMEOUT
            )
            return False
        except PublishRefusedError as error:
            self._refused(
                connection,
                "refused_by_broker",
                f"{error} ({reading.station}, QN {packet.qn}): left unanswered",
            )
            return False
        self.counts["published"] += 1
        return True

    async def _answer(self, writer: asyncio.StreamWriter, reply: Packet) -> None:
        writer.write(build_frame(reply.segment()))
        try:
            await asyncio.wait_for(writer.drain(), self.settings.hj212_frame_seconds)
        except TimeoutError:
            raise SlowReaderError from None
        self.counts["answered"] += 1


async def run_gateway(settings: GatewaySettings, stations: Mapping[str, Logger], stop: asyncio.Event) -> None:
    publisher = AckedPublisher(settings, settings.mqtt_client_id, asyncio.get_running_loop())
    gateway = Gateway(settings, stations, publisher)
    server = await asyncio.start_server(gateway.serve, settings.hj212_bind, settings.hj212_port)
    log.info(
        "%s: HJ 212-2017 on %s:%d for %d station(s), readings to MQTT as %s",
        READY,
        settings.hj212_bind,
        settings.hj212_port,
        len(stations),
        settings.mqtt_username or "anonymous",
    )
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        publisher.close()
        log.info("hj212 gateway stopped: %s", dict(gateway.counts))
