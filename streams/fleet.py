"""The city's figures live: station facts gathered in one changelog-backed row, fleet rules judged.

Every batch of station facts comes keyed by the city, so one agent instance holds the whole
fleet's state (one row of table ``fleet``) and its clock: how far each station has been judged.
Closed hours, days and nights become figures on Kafka ``derived`` (and from there InfluxDB);
fleet-rule transitions go to ``alerts`` like the stations' own.
"""

from __future__ import annotations

import logging

from faust.types import StreamT
from pydantic import ValidationError

from rules.derived import deriver_for
from rules.events import alert_event
from rules.fleet import CITY, FleetEvaluator, FleetState, FleetUpdate, hand_over
from streams.agents import held_batches, stations
from streams.alerting import EVALUATION_BATCH_SECONDS, alert_records, catalogue, figure_records, rules_by_id
from streams.app import app, fleet_topic, settings
from streams.handoff import save, send_all
from streams.metrics import LATE_FACTS

log = logging.getLogger(__name__)

fleet_table = app.Table("fleet", key_type=bytes, value_type=str)
fleet_evaluator = FleetEvaluator(
    catalogue.fleet_rules,
    [station_id for station_id, station in stations.items() if deriver_for(station)],
)
CITY_KEY = CITY.encode()


@app.agent(fleet_topic)
async def judge_fleet(stream: StreamT[bytes]) -> None:
    """Gather the stations' facts, close what the fleet's clock has passed, judge the fleet rules."""
    async for events in held_batches(stream, settings.write_batch_size, EVALUATION_BATCH_SECONDS):
        stored = fleet_table.get(CITY_KEY)
        state = FleetState.model_validate_json(stored) if stored else FleetState()
        late_before = state.late
        transitions = []
        for event in events:
            try:
                update = FleetUpdate.model_validate_json(event.value)
            except ValidationError:
                log.exception("a record on %s is not a fleet update; skipped", settings.fleet_topic)
                continue
            transitions += fleet_evaluator.update(state, update)
        if state.late > late_before:
            LATE_FACTS.inc(state.late - late_before)
            log.warning(
                "%d station facts came after the city closed their period (%d so far): stored, not counted",
                state.late - late_before,
                state.late,
            )
        alerts = [alert_event(t, rules_by_id[t.rule], None) for t in transitions]
        await send_all([*alert_records(alerts), *figure_records(hand_over(state))])
        save(fleet_table, CITY_KEY, state, events[-1])
