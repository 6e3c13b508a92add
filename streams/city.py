"""The city's figures live: station facts gathered in changelog-backed rows, fleet rules judged.

Every batch of station facts comes keyed by the city, so one agent instance holds the whole
fleet's state (rows of table ``fleet``, streams/fleet_rows.py) and its clock: how far each
``readings`` partition has been judged.
Closed hours, days and nights become figures on Kafka ``derived`` (and from there InfluxDB);
fleet-rule transitions go to ``alerts`` like the stations' own.
"""

from __future__ import annotations

import logging

from faust.types import StreamT
from pydantic import ValidationError

from rules.events import alert_event
from rules.fleet import FleetEvaluator, FleetUpdate, hand_over, shards_for
from streams.agents import held_batches
from streams.fleet_rows import FleetRows
from streams.handoff import send_all
from streams.judging import EVALUATION_BATCH_SECONDS, Judging
from streams.metrics import LATE_FACTS

log = logging.getLogger(__name__)


def add_city_agent(judging: Judging) -> None:
    """The agent that gathers the stations' facts, closes what the city's clock has passed and
    judges the fleet rules; it reads what ``judging`` sends it."""
    worker, settings = judging.worker, judging.settings
    fleet_table = worker.rows_table("fleet")
    fleet_rows = FleetRows(fleet_table)
    deriving = sum(1 for deriver in judging.derivers.values() if deriver)
    fleet_evaluator = FleetEvaluator(
        worker.catalogue.fleet_rules, judging.fleet_sources, shards_for(deriving)
    )

    @worker.app.agent(worker.topics.fleet, name=f"{__name__}.judge_city")
    async def judge_city(stream: StreamT[bytes]) -> None:
        async for events in held_batches(stream, settings.write_batch_size, EVALUATION_BATCH_SECONDS):
            state = fleet_rows.take()
            late_before = state.late
            transitions, changed = [], set()
            for event in events:
                try:
                    update = FleetUpdate.model_validate_json(event.value)
                except ValidationError:
                    log.exception("a record on %s is not a fleet update; skipped", settings.fleet_topic)
                    continue
                changed |= {fleet_evaluator.shard_of(station) for station in update.facts.stations()}
                transitions += fleet_evaluator.update(state, update)
            if state.late > late_before:
                LATE_FACTS.inc(state.late - late_before)
                log.warning(
                    "%d station facts came after the city closed their period (%d so far): "
                    "stored, not counted",
                    state.late - late_before,
                    state.late,
                )
            alerts = [alert_event(t, judging.rules_by_id[t.rule], None) for t in transitions]
            await send_all([*judging.alert_records(alerts), *judging.figure_records(hand_over(state))])
            fleet_rows.save(state, changed, events[-1])
            await fleet_table.confirm()
