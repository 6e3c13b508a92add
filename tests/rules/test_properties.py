"""Properties of the evaluator that hold for any readings (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from envalert.core.contract import METRICS, Flag, Kind, Reading
from envalert.core.stations import NoiseZone, Station
from rules.aggregations import Observation
from rules.alerting import AlertState, judge
from rules.catalogue import load_catalogue
from rules.evaluator import StationEvaluator, StationState, Transition
from rules.model import Condition, Severity
from tests.rules.conftest import T0

CATALOGUE = load_catalogue()
STATIONS = {
    Kind.AIR: Station(id="P-air", kind=Kind.AIR, name="a", district="金水区"),
    Kind.NOISE: Station(id="P-noise", kind=Kind.NOISE, name="n", district="金水区", zone=NoiseZone.Z1),
    Kind.GROUNDWATER: Station(
        id="P-gw", kind=Kind.GROUNDWATER, name="g", district="惠济区", warning_level=60
    ),
    Kind.VOCS: Station(id="P-vocs", kind=Kind.VOCS, name="v", district="上街区"),
    Kind.AMMONIA: Station(id="P-nh3", kind=Kind.AMMONIA, name="h", district="荥阳市", unit_type="SCR"),
}


NORMAL_ONLY = st.just(Flag.NORMAL)


@st.composite
def station_story(
    draw: st.DrawFn, flags: st.SearchStrategy[Flag] = NORMAL_ONLY
) -> tuple[Kind, list[Reading]]:
    """A station's readings in time order, minutes apart, with values across each metric's range."""
    kind = draw(st.sampled_from(list(Kind)))
    gaps = draw(st.lists(st.integers(min_value=1, max_value=180), min_size=1, max_size=60))
    readings = []
    at = T0
    for gap in gaps:
        at += timedelta(minutes=gap)
        values = {
            metric: draw(st.floats(min_value=spec.low, max_value=min(spec.high, spec.low + 400)))
            for metric, spec in METRICS[kind].items()
        }
        marks = {metric: draw(flags) for metric in values}
        readings.append(Reading(station=STATIONS[kind].id, kind=kind, ts=at, values=values, flags=marks))
    return kind, readings


def replay(kind: Kind, readings: list[Reading], state: StationState | None = None) -> list[Transition]:
    evaluator = StationEvaluator(CATALOGUE.rules, STATIONS[kind])
    state = state or StationState()
    transitions = []
    for reading in readings:
        transitions += step(evaluator, state, reading)
    return transitions


def step(evaluator: StationEvaluator, state: StationState, reading: Reading) -> list[Transition]:
    """The watermark reaches a minute before the reading, then the reading arrives."""
    return evaluator.tick(state, reading.ts - timedelta(minutes=1)) + evaluator.evaluate(state, reading)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(story=station_story())
def test_the_same_readings_give_the_same_transitions(story: tuple[Kind, list[Reading]]) -> None:
    kind, readings = story
    first = replay(kind, readings)
    assert first == replay(kind, readings)
    FIRED.update(t.rule for t in first)


FIRED: set[str] = set()


def test_the_stories_above_made_rules_fire() -> None:
    """Guards the properties against passing on stories where nothing ever happens.

    It reads what the determinism property above collected, so it runs after it (file order)."""
    assert len(FIRED) >= 3 and {"air.aqi.heavy", "dq.silent"} <= FIRED, FIRED


@settings(max_examples=60, deadline=None)
@given(story=station_story(), cut=st.integers(min_value=0, max_value=60))
def test_state_saved_and_restored_midway_changes_nothing(story: tuple[Kind, list[Reading]], cut: int) -> None:
    kind, readings = story
    evaluator = StationEvaluator(CATALOGUE.rules, STATIONS[kind])
    state = StationState()
    before = []
    for reading in readings[:cut]:
        before += step(evaluator, state, reading)
    restored = StationState.model_validate_json(state.model_dump_json())
    assert before + replay(kind, readings[cut:], restored) == replay(kind, readings)


@settings(max_examples=80, deadline=None)
@given(story=station_story(flags=st.sampled_from([f for f in Flag if f is not Flag.NORMAL])))
def test_flagged_readings_never_fire_a_limit_rule(story: tuple[Kind, list[Reading]]) -> None:
    kind, readings = story
    limit_rules = {rule.id for rule in CATALOGUE.rules if rule.judges_limits}
    assert not [t for t in replay(kind, readings) if t.rule in limit_rules]


@settings(max_examples=200)
@given(
    threshold=st.floats(min_value=-1000, max_value=1000),
    hysteresis=st.floats(min_value=0.5, max_value=50),
    wobble=st.lists(st.floats(min_value=-0.99, max_value=0.99), min_size=1, max_size=50),
)
def test_a_signal_hovering_at_the_threshold_does_not_flap(
    threshold: float, hysteresis: float, wobble: list[float]
) -> None:
    """Once firing, values within the hysteresis band around the threshold never resolve it."""
    condition = Condition(op=">", warning=threshold, hysteresis=hysteresis)
    state = AlertState()
    values = [threshold + hysteresis, *(threshold + w * hysteresis for w in wobble)]
    changes = [
        change
        for index, value in enumerate(values)
        for change in judge(
            condition,
            {Severity.WARNING: threshold},
            state,
            Observation(value, T0 + timedelta(minutes=index), "t", "t"),
        )
    ]
    assert [change.state for change in changes] == ["firing"]
