"""The stream's judgement without the stream: every station's timeline and the fleet, in one process.

Given the same readings and the same final watermark, the worker must come to exactly these
transitions and figures, however the readings reached it (paced, flat out, a little out of
order, across a restart). Tests compare the two; a replayed file can be judged here first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ingest.contract import Reading
from ingest.stations import Station
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


def judge_offline(
    catalogue: Catalogue,
    stations: dict[str, Station],
    readings: Iterable[Reading],
    watermark: datetime,
) -> Judgement:
    """Judge ``readings`` up to ``watermark``, every station to that same point (as the stream's
    ticks take every station of the catalogue there, heard from or not)."""
    by_station: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_station[reading.station].append(reading)
    judgement = Judgement()
    update = FleetUpdate(facts=Facts())
    for station_id, station in stations.items():
        own = by_station.get(station_id, [])
        timeline, deriver = Timeline(), deriver_for(station)
        for reading in own:
            accept(timeline, reading)
        evaluator = StationEvaluator(catalogue.rules, station)
        judgement.transitions += advance(timeline, evaluator, watermark, deriver)
        if deriver and timeline.judged_to is not None:
            update.facts.add(facts_of(timeline))
            update.judged_to[station_id] = timeline.judged_to
    deriving = [station_id for station_id, station in stations.items() if deriver_for(station)]
    fleet, state = FleetEvaluator(catalogue.fleet_rules, deriving), FleetState()
    judgement.transitions += fleet.update(state, update)
    judgement.figures += hand_over(state)
    return judgement
