"""Pure evaluation of the catalogue for one station: (state, reading or clock tick) → transitions.

No I/O and no wall clock: the same readings and ticks always give the same transitions. The
state is a small pydantic model, so the stream can keep it in a changelog-backed table.
``evaluate`` and ``tick`` update the state they are given and return what changed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from envalert.core.contract import Reading
from envalert.core.stations import Station
from rules.aggregations import Observation, WindowState, clocked, on_reading, on_tick
from rules.alerting import AlertState, Change, judge
from rules.model import ByAttribute, FromStandard, FromStation, Rule, RuleBase, Severity, Threshold
from rules.standards.aqi import HEAVY_AQI, SEVERE_AQI, Averaging, Pollutant, concentration_at
from rules.standards.limits import AMBIENT_CLASS_II, ammonia_slip, nmhc_limits
from rules.standards.noise import SUDDEN_NOISE_ALLOWANCE, night_limit

Observer = Callable[[Rule, "WindowState"], list[Observation]]


class RuleState(BaseModel):
    window: WindowState = Field(default_factory=WindowState)
    alert: AlertState = Field(default_factory=AlertState)
    #: What the window was built for (a CRC-32 of the rule's ``compute``): a timeline outlives a
    #: release or a catalogue change, and a window kept for another computation (minute readings
    #: where hourly values are now averaged) must start afresh; the alert's state is kept.
    computes: int = 0


class StationState(BaseModel):
    """All a station's rule states, by rule id."""

    rules: dict[str, RuleState] = Field(default_factory=dict)


class Transition(Change):
    rule: str
    subject: str

    @property
    def fingerprint(self) -> str:
        """Stable across restarts and replays: the rule and what it watches."""
        return f"{self.rule}/{self.subject}"


def resolve(threshold: Threshold | None, station: Station) -> float | None:
    """The number a threshold means for this station; None where it does not apply to it."""
    match threshold:
        case None:
            return None
        case float() | int():
            return float(threshold)
        case ByAttribute(by=attribute, values=values):
            # Zones are string enums, so they look up their own value; a station without the
            # attribute (None) finds nothing.
            return values.get(getattr(station, attribute))
        case FromStation(station_attribute=attribute):
            value: float | None = getattr(station, attribute)
            return value
        case FromStandard(standard=standard, times=times):
            limit = standard_limit(standard, station)
            return None if limit is None else limit * times
    raise AssertionError(f"unhandled threshold {threshold!r}")


def standard_limit(standard: str, station: Station) -> float | None:
    """The number a named standard's limit has for this station; None where it does not apply."""
    match standard:
        case "gb3095_pm25_24h":
            return AMBIENT_CLASS_II[(Pollutant.PM25, Averaging.DAY)].value
        case "gb3095_o3_8h":
            return AMBIENT_CLASS_II[(Pollutant.O3, Averaging.EIGHT_HOURS)].value
        case "pm25_24h_at_iaqi_200":
            return concentration_at(Pollutant.PM25, Averaging.DAY, 200)
        case "o3_8h_at_iaqi_200":
            return concentration_at(Pollutant.O3, Averaging.EIGHT_HOURS, 200)
        case "aqi_heavy":
            return HEAVY_AQI
        case "aqi_severe":
            return SEVERE_AQI
        case "gb3096_night":
            return night_limit(station.zone, station.railway) if station.zone else None
        case "gb3096_sudden":
            return (
                night_limit(station.zone, station.railway) + SUDDEN_NOISE_ALLOWANCE if station.zone else None
            )
        case "ammonia_slip":
            return (
                ammonia_slip(station.unit_type, station.sector, station.special_limits).value
                if station.unit_type
                else None
            )
        case "gb37822_nmhc_1h":
            return nmhc_limits(station.special_limits)[0].value
        case "gb37822_nmhc_single":
            return nmhc_limits(station.special_limits)[1].value
    raise AssertionError(f"unhandled standard {standard!r}")


def thresholds_for(rule: Rule, station: Station) -> dict[Severity, float]:
    resolved = {
        Severity.WARNING: resolve(rule.condition.warning, station),
        Severity.CRITICAL: resolve(rule.condition.critical, station),
    }
    return {severity: value for severity, value in resolved.items() if value is not None}


class StationEvaluator:
    """The rules that apply to one station, with their thresholds resolved once."""

    def __init__(self, rules: list[Rule], station: Station) -> None:
        self.station = station
        self.rules = [
            (rule, limits)
            for rule in rules
            if rule.applies_to.matches(station) and (limits := thresholds_for(rule, station))
        ]
        #: A tick reaches every station every minute: only these rules have anything to do then.
        self.clocked = [(rule, limits) for rule, limits in self.rules if clocked(rule.compute)]
        self.computes = {
            rule.id: zlib.crc32(rule.compute.model_dump_json().encode()) for rule, _ in self.rules
        }

    def evaluate(self, state: StationState, reading: Reading) -> list[Transition]:
        return self._judge(
            state, self.rules, lambda rule, window: on_reading(rule.compute, window, reading, self.station)
        )

    def tick(self, state: StationState, now: datetime) -> list[Transition]:
        """The event clock (the fleet watermark) reached ``now``."""
        return self._judge(state, self.clocked, lambda rule, window: on_tick(rule.compute, window, now))

    def _judge(
        self, state: StationState, rules: list[tuple[Rule, dict[Severity, float]]], observe: Observer
    ) -> list[Transition]:
        transitions: list[Transition] = []
        for rule, limits in rules:
            rule_state, computes = state.rules.get(rule.id), self.computes[rule.id]
            if rule_state is None or rule_state.computes != computes:
                alert = rule_state.alert if rule_state else AlertState()
                rule_state = state.rules[rule.id] = RuleState(alert=alert, computes=computes)
            for seen in observe(rule, rule_state.window):
                transitions += judged(rule, self.station.id, limits, rule_state.alert, seen)
        return transitions


def judged(
    rule: RuleBase, subject: str, limits: dict[Severity, float], alert: AlertState, seen: Observation
) -> list[Transition]:
    """Judge one observation of ``rule`` for ``subject``, naming both in the transitions."""
    return [
        Transition(**change.model_dump(), rule=rule.id, subject=subject)
        for change in judge(rule.condition, limits, alert, seen)
    ]
