"""A station's event-time timeline: readings put back in order, and clock ticks on whole minutes.

The stream hands each reading to ``accept`` as it arrives and the station's clock (its latest
reading time seen, less the allowed lateness; or its partition's, once it is silent) to
``advance``. Readings at or before that watermark are judged in time order, and a tick is judged
at every whole minute the watermark passes, after the readings up to that minute. So what is
judged depends only on event times: a day streamed live, replayed at 500×, or delivered a little
out of order gives the same transitions. A reading that arrives after the watermark has passed
its time is late: counted, never judged.

A station that feeds the fleet's figures (air, zoned noise) also derives its closed hours, days
and nights on the same clock; they wait in ``facts`` until the stream hands them on.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from envalert.core.contract import Reading
from rules.derived import DerivedState, Facts, StationDeriver
from rules.evaluator import StationEvaluator, StationState, Transition

TICK = timedelta(minutes=1)


class Timeline(BaseModel):
    rules: StationState = Field(default_factory=StationState)
    #: Readings not yet judged, in time order.
    waiting: list[Reading] = Field(default_factory=list)
    #: How far this station has been judged: readings up to here, ticks up to here.
    judged_to: datetime | None = None
    late: int = 0
    derived: DerivedState = Field(default_factory=DerivedState)
    #: Derived facts not yet handed to the fleet.
    facts: Facts = Field(default_factory=Facts)


def floor_minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def accept(timeline: Timeline, reading: Reading) -> bool:
    """Queue a reading for judgement; False (and counted) if it came after its time was judged."""
    if timeline.judged_to is not None and reading.ts <= timeline.judged_to:
        timeline.late += 1
        return False
    waiting = timeline.waiting
    if not waiting or reading.ts > waiting[-1].ts:  # the usual case: in order
        waiting.append(reading)
        return True
    # Not after the last one waiting, so at or before one of them.
    index = bisect.bisect_left(waiting, reading.ts, key=lambda one: one.ts)
    if waiting[index].ts == reading.ts:
        # The same station and time: delivered again after a restart (or corrected); the last one
        # counts, as in InfluxDB, and it is judged once.
        waiting[index] = reading
    else:
        waiting.insert(index, reading)
    return True


def advance(
    timeline: Timeline,
    evaluator: StationEvaluator,
    watermark: datetime,
    deriver: StationDeriver | None = None,
) -> list[Transition]:
    """Judge what the watermark has passed: readings in time order, a tick at each whole minute."""
    if timeline.judged_to is None:
        if not timeline.waiting:
            # Never heard from: nothing to judge, but the clock has reached it (the fleet waits for it).
            timeline.judged_to = watermark
            return []
        # The clock starts where the watermark stands, or just before a first reading older than it:
        # the station's readings that come next, out of order but in time, are still judged.
        timeline.judged_to = min(watermark, floor_minute(timeline.waiting[0].ts) - TICK)
    transitions: list[Transition] = []
    minute = floor_minute(timeline.judged_to) + TICK
    while minute <= watermark:
        transitions += _release(timeline, evaluator, minute, deriver)
        transitions += evaluator.tick(timeline.rules, minute)
        if deriver:
            timeline.facts.add(deriver.on_tick(timeline.derived, minute))
        timeline.judged_to = minute
        minute += TICK
    transitions += _release(timeline, evaluator, watermark, deriver)
    timeline.judged_to = max(timeline.judged_to, watermark)
    return transitions


def _release(
    timeline: Timeline, evaluator: StationEvaluator, until: datetime, deriver: StationDeriver | None
) -> list[Transition]:
    transitions: list[Transition] = []
    due, judged = bisect.bisect_right(timeline.waiting, until, key=lambda one: one.ts), 0
    try:
        for reading in timeline.waiting[:due]:
            judged += 1  # taken off even if judging it fails, as one at a time would be
            transitions += evaluator.evaluate(timeline.rules, reading)
            if deriver:
                timeline.facts.add(deriver.on_reading(timeline.derived, reading))
    finally:
        # One cut, not a pop from the front per reading: quadratic with thousands waiting.
        del timeline.waiting[:judged]
    return transitions


def hand_over(timeline: Timeline) -> Facts:
    """The facts derived so far, emptying the timeline's outbox."""
    facts, timeline.facts = timeline.facts, Facts()
    return facts
