"""The stream's judgement without the stream: every station's timeline and the fleet, in one process.

Given the same readings and the same final watermark, the worker must come to exactly these
transitions and figures, however the readings reached it (paced, flat out, a little out of
order, across a restart). Tests compare the two; a replayed file can be judged here first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from envalert.core.contract import Reading
from envalert.core.stations import Station
from rules.derived import Facts, deriver_for
from rules.evaluator import StationEvaluator, Transition
from rules.figures import Figure
from rules.fleet import FleetEvaluator, FleetState, FleetUpdate, hand_over
from rules.model import Catalogue
from rules.timeline import Timeline, accept, advance
from rules.timeline import hand_over as facts_of


@dataclass
class Judgement:
    transitions: list[Transition] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


class OfflineJudge:
    """Every station's timeline and the fleet, judged in one process up to a watermark that only
    goes forward: judging to one time and then to a later one gives what judging to the later one
    at once gives (the readings of each step are all there before its watermark passes them)."""

    def __init__(self, catalogue: Catalogue, stations: dict[str, Station]) -> None:
        self.evaluators = {
            sid: StationEvaluator(catalogue.rules, station) for sid, station in stations.items()
        }
        self.derivers = {sid: deriver_for(station) for sid, station in stations.items()}
        self.timelines = {sid: Timeline() for sid in stations}
        deriving = [sid for sid, deriver in self.derivers.items() if deriver]
        self.fleet, self.fleet_state = FleetEvaluator(catalogue.fleet_rules, deriving), FleetState()
        self.judgement = Judgement()

    def judge(self, readings: Iterable[Reading], watermark: datetime) -> Judgement:
        """Take ``readings`` (later than any watermark judged before) and judge every station and
        the fleet to ``watermark``; the judgement so far."""
        for reading in readings:
            if reading.station in self.timelines:
                accept(self.timelines[reading.station], reading)
        update = FleetUpdate(facts=Facts())
        for station_id, timeline in self.timelines.items():
            deriver = self.derivers[station_id]
            self.judgement.transitions += advance(timeline, self.evaluators[station_id], watermark, deriver)
            if deriver and timeline.judged_to is not None:
                update.facts.add(facts_of(timeline))
                update.judged_to[station_id] = timeline.judged_to
        self.judgement.transitions += self.fleet.update(self.fleet_state, update)
        self.judgement.figures += hand_over(self.fleet_state)
        return self.judgement


def judge_offline(
    catalogue: Catalogue,
    stations: dict[str, Station],
    readings: Iterable[Reading],
    watermark: datetime,
) -> Judgement:
    """Judge ``readings`` up to ``watermark``, every station to that same point (as the stream's
    ticks take every station of the catalogue there, heard from or not)."""
    return OfflineJudge(catalogue, stations).judge(readings, watermark)
