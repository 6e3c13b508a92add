"""Simulated HJ 212-2017 data loggers: readings as real-time data (CN=2011) over TCP.

Like a real logger, each frame asks for an answer (Flag=5) and is sent again when the 9014
answer does not come; the gateway answers only once the broker has the reading, so a frame
answered is a reading delivered.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from envalert.core.contract import CHINA_STANDARD_TIME, Kind, Reading
from envalert.core.secrets import expand
from envalert.core.stations import Station
from ingest.hj212.frame import Frame, FrameReader, build_frame
from ingest.hj212.mapping import DEFAULT_FACTORS
from ingest.hj212.packet import DATA_ANSWER, TIME_FORMAT, Packet, PacketError, parse_segment

#: HJ 212-2017 system codes (ST): ambient air 22, air pollution sources (CEMS) 31.
SYSTEM_CODES = {Kind.AIR: "22", Kind.AMMONIA: "31", Kind.VOCS: "31"}
TRIES = 3


def data_packet(
    reading: Reading, station: Station, factors: Mapping[str, str] = DEFAULT_FACTORS
) -> Packet | None:
    """The real-time data packet a logger sends for ``reading``, with the station's password as
    given (``resolved`` fills in secret references); None if none of its metrics has a factor
    code or the station has no HJ 212 access."""
    access = station.hj212
    codes = {metric: code for code, metric in factors.items()}
    parts = {
        codes[metric]: {"Rtd": repr(value), "Flag": reading.flag(metric).value}
        for metric, value in reading.values.items()
        if metric in codes
    }
    if access is None or not parts or station.kind not in SYSTEM_CODES:
        return None
    local = reading.ts.astimezone(CHINA_STANDARD_TIME)
    return Packet(
        st=SYSTEM_CODES[station.kind],
        cn="2011",
        pw=access.password,
        mn=access.mn,
        qn=f"{local:{TIME_FORMAT}}{local.microsecond // 1000:03d}",
        flag=5,
        fields={"DataTime": f"{local:{TIME_FORMAT}}"},
        factors=parts,
    )


def resolved(stations: Mapping[str, Station], environ: Mapping[str, str] | None = None) -> dict[str, Station]:
    """The stations with their HJ 212 passwords read once from the environment or files."""
    env = os.environ if environ is None else environ
    return {
        sid: station.model_copy(
            update={
                "hj212": station.hj212.model_copy(
                    update={"password": expand(station.hj212.password, env, Path.cwd())}
                )
            }
        )
        if station.hj212
        else station
        for sid, station in stations.items()
    }


class Logger:
    """One TCP connection to the gateway, as a data logger keeps it."""

    def __init__(self, address: tuple[str, int], answer_timeout: float = 10.0) -> None:
        self._connection = socket.create_connection(address, timeout=answer_timeout)
        self._reader = FrameReader()
        self._answers: list[Frame] = []

    def send(self, packet: Packet) -> None:
        """Send until the gateway answers 9014 with this packet's QN (three tries)."""
        frame = build_frame(packet.segment())
        for _ in range(TRIES):
            self._connection.sendall(frame)
            if self._answered(packet.qn):
                return
        raise ConnectionError(
            f"the gateway did not answer {packet.mn}'s frame QN={packet.qn} in {TRIES} tries"
        )

    def _answered(self, qn: str | None) -> bool:
        while True:
            for frame in self._answers:
                try:
                    reply = parse_segment(frame.segment)
                except PacketError:
                    continue
                if reply.cn == DATA_ANSWER and reply.qn == qn:
                    self._answers.clear()
                    return True
            try:
                data = self._connection.recv(65536)
            except TimeoutError:
                return False
            if not data:
                raise ConnectionError("the gateway closed the connection")
            self._answers += [item for item in self._reader.feed(data) if isinstance(item, Frame)]

    def close(self) -> None:
        self._connection.close()


def send_readings(
    address: tuple[str, int],
    readings: Iterable[Reading],
    stations: Mapping[str, Station],
    on_sent: Callable[[int], None] = lambda _: None,
) -> tuple[int, int]:
    """Send each reading a station's logger can (an HJ 212 station, a metric with a factor code)
    over one connection per station; returns (sent, skipped)."""
    loggers: dict[str, Logger] = {}
    known = resolved(stations)
    sent = skipped = 0
    try:
        for reading in readings:
            packet = data_packet(reading, known[reading.station])
            if packet is None:
                skipped += 1
                continue
            if reading.station not in loggers:
                loggers[reading.station] = Logger(address)
            loggers[reading.station].send(packet)
            sent += 1
            on_sent(sent)
    finally:
        for logger in loggers.values():
            logger.close()
    return sent, skipped
