"""``envalert hj212``: an asyncio TCP server for HJ 212-2017 data loggers, publishing to MQTT.

Each connection has its own frame reader, so a station's garbage never touches another's data.
A data frame is answered (9014, when its Flag asks) only once the broker acked its reading: a
logger that gets no answer sends again, so nothing is lost between the logger and MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.contract import topic_for
from ingest.hj212.frame import Frame, FrameProblem, FrameReader, build_frame
from ingest.hj212.mapping import DATA_COMMANDS, DEFAULT_FACTORS, UNPUBLISHED_UPLOADS, reading_of
from ingest.hj212.packet import DATA_ANSWER, NOTIFICATION_ANSWER, Packet, PacketError, answer, parse_segment
from ingest.publisher import AckedPublisher, PublishRefusedError, station_payload
from ingest.secrets import SecretMissingError, expand
from ingest.settings import GatewaySettings
from ingest.stations import Station

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
        found[station.hj212.mn] = Logger(station, password)
    return found


class Gateway:
    def __init__(
        self, settings: GatewaySettings, stations: Mapping[str, Logger], publisher: AckedPublisher
    ) -> None:
        self.settings, self.stations, self.publisher = settings, stations, publisher
        self.factors = DEFAULT_FACTORS | settings.hj212_factors
        #: What happened to frames, by outcome: published, answered, and each reason for refusal.
        self.counts: Counter[str] = Counter()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One logger's connection, until it closes, idles out or the gateway stops."""
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        frames = FrameReader(self.settings.hj212_max_segment)
        log.info("connection from %s", peer)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.settings.hj212_idle_seconds)
                except TimeoutError:
                    log.info("closing %s: nothing for %.0f s", peer, self.settings.hj212_idle_seconds)
                    break
                if not data:
                    break
                for item in frames.feed(data):
                    if isinstance(item, FrameProblem):
                        self._refused(peer, item.reason, f"{item.detail}; dropped {item.dropped[:60]!r}")
                    else:
                        await self._frame(item, peer, writer)
        except ConnectionError as error:
            log.info("connection from %s broke: %s", peer, error)
        except asyncio.CancelledError:
            # The gateway is stopping. The task must not end cancelled: Python 3.11's stream
            # callback then calls task.exception() and logs a traceback (fixed in 3.12).
            log.info("closing %s: the gateway is stopping", peer)
        finally:
            if frames.pending():
                self._refused(
                    peer, "incomplete", f"{frames.pending()} byte(s) of an unfinished frame at close"
                )
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            log.info("%s disconnected", peer)

    def _refused(self, peer: str, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        log.warning("refused from %s (%s): %s", peer, reason, detail)

    def _packet(self, frame: Frame, peer: str) -> tuple[Packet, Logger] | None:
        """The frame's packet and the station it proves to be from, or None (logged)."""
        if not frame.crc_ok:
            detail = f"CRC {frame.carried!r}, the segment's is {frame.computed}"
            if not self.settings.hj212_accept_bad_crc:
                self._refused(peer, "bad_crc", f"{detail}; frame {frame.segment[:60]!r}")
                return None
            log.warning(
                "took a frame from %s with a wrong CRC (%s): ENVALERT_HJ212_ACCEPT_BAD_CRC is on",
                peer,
                detail,
            )
        try:
            packet = parse_segment(frame.segment)
        except PacketError as error:
            self._refused(peer, error.reason, f"{error.detail}; frame {frame.segment[:60]!r}")
            return None
        logger = self.stations.get(packet.mn)
        if logger is None:
            self._refused(peer, "unknown_mn", f"MN {packet.mn!r} is no station's hj212.mn in the catalogue")
            return None
        if not hmac.compare_digest(logger.password.encode(), packet.pw.encode()):
            self._refused(peer, "wrong_password", f"wrong PW for MN {packet.mn} ({logger.station.id})")
            return None
        return packet, logger

    async def _frame(self, frame: Frame, peer: str, writer: asyncio.StreamWriter) -> None:
        found = self._packet(frame, peer)
        if found is None:
            return
        packet, logger = found
        if packet.cn in ANSWERS:
            self.counts["answers"] += 1
            return
        if packet.cn in DATA_COMMANDS and not await self._publish(packet, logger, peer):
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
        if packet.wants_answer:
            await self._answer(
                writer, answer(packet, DATA_ANSWER if packet.cn.startswith("2") else NOTIFICATION_ANSWER)
            )

    async def _publish(self, packet: Packet, logger: Logger, peer: str) -> bool:
        """Publish the packet's reading; False if it is unusable or the broker did not ack it."""
        try:
            reading, notes = reading_of(packet, logger.station, self.factors)
        except PacketError as error:
            self._refused(peer, error.reason, f"{error.detail} (MN {packet.mn}, QN {packet.qn})")
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
                peer, "refused_by_broker", f"{error} ({reading.station}, QN {packet.qn}): left unanswered"
            )
            return False
        self.counts["published"] += 1
        return True

    async def _answer(self, writer: asyncio.StreamWriter, reply: Packet) -> None:
        writer.write(build_frame(reply.segment()))
        await writer.drain()
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
