"""Unit tests for rules, the counterpart of ``promtool test rules``: series in, alerts and figures out.

A test file (YAML) gives the rule catalogues, the stations, series of values for some of them in
promtool's notation, and at chosen times the alerts expected to be firing and the figures
expected to be published. Each test judges the series up to its time with the same pure
evaluator the worker runs (``rules.offline``), so a rule change can be proved before it is
deployed. Only the stations that appear in the series are judged: the rest of a catalogue is not
"silent".
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from envalert.core.config_files import ConfigError, load_yaml
from envalert.core.contract import METRICS, Flag, Reading
from envalert.core.stations import Station, StationCatalogue, load_stations
from rules.catalogue import SHIPPED, load_catalogue
from rules.durations import Duration
from rules.evaluator import Transition
from rules.figures import Figure
from rules.model import Catalogue, Severity
from rules.offline import OfflineJudge

#: The most values one series may expand to: four years of minutes, not a memory bomb.
MAX_VALUES = 2_000_000
DEFAULT = "default"
_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXPANDING = re.compile(rf"^(?P<a>[-+]?{_UNSIGNED})(?:(?P<op>[+-])(?P<b>{_UNSIGNED}))?x(?P<n>\d+)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSeries(Strict):
    station: str
    metric: str
    #: promtool notation: ``a``, ``a+bxN`` / ``a-bxN`` (N+1 values), ``axN`` (N+1 times a),
    #: ``_`` (no value), ``_xN`` (N of them), ``stale`` (no value: the station said nothing).
    values: str
    #: The HJ 212 data flag every value of the series carries (N: normal, judged against limits).
    flag: Flag = Flag.NORMAL


class ExpectedAlert(Strict):
    rule: str
    subject: str
    severity: Severity


class ExpectedFigure(BaseModel):
    """A figure published by the test's time: what names it, and any of its fields to compare."""

    model_config = ConfigDict(extra="allow", frozen=True)

    measurement: str
    subject: str
    #: The start of the period it covers: ``hour`` for hourly figures, ``at`` for any.
    hour: AwareDatetime | None = None
    at: AwareDatetime | None = None

    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RuleTest(Strict):
    eval_time: Duration | AwareDatetime
    #: Compare only this rule's alerts (all rules' if omitted).
    rule: str | None = None
    #: The alerts firing at that time; not compared if omitted (a test of figures only).
    exp_alerts: list[ExpectedAlert] | None = None
    exp_figures: list[ExpectedFigure] = Field(default_factory=list)


class RuleTestFile(Strict):
    rule_files: list[str] = Field(default_factory=lambda: [DEFAULT], min_length=1)
    stations_file: str | None = None
    stations: list[Station] | None = None
    start: AwareDatetime
    interval: Duration
    input_series: list[InputSeries] = Field(min_length=1)
    tests: list[RuleTest] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_catalogue_of_stations(self) -> RuleTestFile:
        if self.stations_file is not None and self.stations is not None:
            raise ValueError("give stations_file or stations, not both")
        if self.interval <= timedelta(0):
            raise ValueError(f"interval {self.interval} must be more than nothing")
        return self


def expand(values: str) -> list[float | None]:
    """promtool's series notation, value by value; None where there is no value."""
    expanded: list[float | None] = []
    for token in values.split():
        if token in {"_", "stale"}:
            expanded.append(None)
        elif token.startswith("_x") and token[2:].isdigit():
            if len(expanded) + int(token[2:]) > MAX_VALUES:
                raise ValueError(f"{token!r} makes more than {MAX_VALUES:,} values")
            expanded += [None] * int(token[2:])
        elif match := _EXPANDING.match(token):
            a, n = float(match["a"]), int(match["n"])
            step = float(match["b"] or 0) * (-1 if match["op"] == "-" else 1)
            if len(expanded) + n + 1 > MAX_VALUES:
                raise ValueError(f"{token!r} makes more than {MAX_VALUES:,} values")
            expanded += [a + step * index for index in range(n + 1)]
        else:
            try:
                expanded.append(float(token))
            except ValueError:
                raise ValueError(
                    f"{token!r} is not a value: write a number, a+bxN, axN, _ or stale"
                ) from None
        if len(expanded) > MAX_VALUES:
            raise ValueError(f"more than {MAX_VALUES:,} values")
    if any(value is not None and not math.isfinite(value) for value in expanded):
        raise ValueError(f"{values[:40]!r} holds a value that is not a finite number")
    return expanded


@dataclass
class Suite:
    """A test file, loaded and checked: its catalogue, its judged stations, their readings."""

    path: Path
    spec: RuleTestFile
    catalogue: Catalogue
    stations: dict[str, Station]
    readings: list[Reading]


def load_suite(path: Path, default_stations: Path) -> Suite:
    """Read and check a test file; ConfigError naming the file and the field if it is malformed.
    ``default_stations``: the catalogue ``stations_file: default`` (or none given) means."""
    spec = load_yaml(path, RuleTestFile)
    catalogue = _catalogue(path, spec.rule_files)
    everyone = _stations(path, spec, default_stations)
    readings = _readings(path, spec, everyone)
    judged = {reading.station for reading in readings} | {series.station for series in spec.input_series}
    stations = {station_id: everyone[station_id] for station_id in sorted(judged)}
    known = {rule.id for rule in catalogue.rules} | {rule.id for rule in catalogue.fleet_rules}
    for index, test in enumerate(spec.tests):
        for rule_id in [test.rule, *(alert.rule for alert in test.exp_alerts or [])]:
            if rule_id is not None and rule_id not in known:
                raise ConfigError(
                    f"{path}: tests[{index}]: no rule {rule_id!r} in {', '.join(spec.rule_files)}"
                )
    return Suite(path, spec, catalogue, stations, readings)


def _relative(path: Path, name: str) -> Path:
    return Path(name) if Path(name).is_absolute() else path.parent / name


def _catalogue(path: Path, names: list[str]) -> Catalogue:
    loaded = [load_catalogue(SHIPPED if name == DEFAULT else _relative(path, name)) for name in names]
    rules = [rule for catalogue in loaded for rule in catalogue.rules]
    fleet_rules = [rule for catalogue in loaded for rule in catalogue.fleet_rules]
    # Before the merged catalogue is built: it would refuse a twin without naming the files.
    ids = [rule.id for rule in [*rules, *fleet_rules]]
    if twice := sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1}):
        raise ConfigError(f"{path}: rule_files: rule(s) {', '.join(twice)} in more than one file")
    return Catalogue(rules=rules, fleet_rules=fleet_rules)


def _stations(path: Path, spec: RuleTestFile, default: Path) -> dict[str, Station]:
    if spec.stations is not None:
        return StationCatalogue(stations=spec.stations).by_id()
    name = spec.stations_file or DEFAULT
    return load_stations(default if name == DEFAULT else _relative(path, name))


def _readings(path: Path, spec: RuleTestFile, stations: dict[str, Station]) -> list[Reading]:
    values: dict[tuple[str, datetime], dict[str, float]] = defaultdict(dict)
    flags: dict[tuple[str, datetime], dict[str, Flag]] = defaultdict(dict)
    for index, series in enumerate(spec.input_series):
        where = f"{path}: input_series[{index}]"
        station = stations.get(series.station)
        if station is None:
            raise ConfigError(f"{where}.station: {series.station!r} is not in the stations")
        if series.metric not in METRICS[station.kind]:
            known = ", ".join(METRICS[station.kind])
            raise ConfigError(
                f"{where}.metric: {series.metric!r} is not a {station.kind.value} metric ({known})"
            )
        try:
            expanded = expand(series.values)
        except ValueError as error:
            raise ConfigError(f"{where}.values: {error}") from None
        for step, value in enumerate(expanded):
            if value is not None:
                key = (series.station, spec.start + step * spec.interval)
                values[key][series.metric] = value
                if series.flag is not Flag.NORMAL:
                    flags[key][series.metric] = series.flag
    return [
        Reading(
            station=station_id,
            kind=stations[station_id].kind,
            ts=at,
            values=measured,
            flags=flags[(station_id, at)],
        )
        for (station_id, at), measured in sorted(values.items(), key=lambda item: (item[0][1], item[0][0]))
    ]


@dataclass(frozen=True)
class Failure:
    index: int
    test: RuleTest
    at: datetime
    #: What differed, as lines of expected and got.
    lines: list[str]


def eval_time(spec: RuleTestFile, test: RuleTest) -> datetime:
    return spec.start + test.eval_time if isinstance(test.eval_time, timedelta) else test.eval_time


def run_suite(suite: Suite) -> list[Failure]:
    """Each test's failure, if it fails: the series judged up to its time, as the worker would.
    The tests are judged in time order by one judge that only moves forward."""
    failures = []
    order = sorted(enumerate(suite.spec.tests), key=lambda item: eval_time(suite.spec, item[1]))
    judge, taken = OfflineJudge(suite.catalogue, suite.stations), 0
    for index, test in order:
        at = eval_time(suite.spec, test)
        upto = bisect.bisect_right([reading.ts for reading in suite.readings], at)
        judged = judge.judge(suite.readings[taken:upto], at)
        taken = upto
        lines = (
            []
            if test.exp_alerts is None
            else _alert_lines(test.exp_alerts, firing(judged.transitions, test.rule))
        )
        lines += _figure_lines(test, judged.figures)
        if lines:
            failures.append(Failure(index, test, at, lines))
    return sorted(failures, key=lambda failure: failure.index)


def firing(transitions: list[Transition], rule: str | None) -> list[ExpectedAlert]:
    """The alerts firing after ``transitions`` (of ``rule`` only, if given), sorted."""
    last: dict[str, Transition] = {}
    for transition in transitions:
        if rule is None or transition.rule == rule:
            last[transition.fingerprint] = transition
    return sorted(
        (
            ExpectedAlert(rule=t.rule, subject=t.subject, severity=t.severity or Severity.WARNING)
            for t in last.values()
            if t.state == "firing"
        ),
        key=_alert_key,
    )


def _alert_key(alert: ExpectedAlert) -> tuple[str, str, str]:
    return alert.rule, alert.subject, alert.severity.value


def _alert_lines(exp_alerts: list[ExpectedAlert], got: list[ExpectedAlert]) -> list[str]:
    expected = sorted(exp_alerts, key=_alert_key)
    if expected == got:
        return []
    return [f"alerts expected: {_alerts(expected)}", f"alerts got:      {_alerts(got)}"]


def _alerts(alerts: list[ExpectedAlert]) -> str:
    return "[" + ", ".join(f"{a.rule} {a.subject} {a.severity.value}" for a in alerts) + "]"


def _figure_lines(test: RuleTest, figures: list[Figure]) -> list[str]:
    lines = []
    for expected in test.exp_figures:
        when = expected.hour or expected.at
        found = [
            figure
            for figure in figures
            if figure.measurement == expected.measurement
            and expected.subject in (figure.tags.get("area"), figure.tags.get("station"))
            and (when is None or figure.at == when)
        ]
        name = f"{expected.measurement} {expected.subject}" + (f" at {when.isoformat()}" if when else "")
        if not found:
            lines.append(f"figure expected: {name}, got none")
            continue
        got = _fields(found[-1])
        differing = {key: value for key, value in expected.fields().items() if not _same(got.get(key), value)}
        if differing:
            shown = ", ".join(f"{key}: {got.get(key)!r}" for key in differing)
            lines.append(f"figure {name}: expected {differing}, got {shown}")
    return lines


def _same(got: Any, expected: Any) -> bool:
    """Equal, numbers to nine significant digits: a test writes 58.333333333 for 175/3."""
    numbers = (int, float)
    if isinstance(got, numbers) and isinstance(expected, numbers) and not isinstance(got, bool):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    return bool(got == expected)


def _fields(figure: Figure) -> dict[str, Any]:
    """A figure's fields as a test names them: primary pollutants as a list, valid unless said."""
    fields: dict[str, Any] = {"valid": True, **figure.fields}
    if "primary" in fields:
        fields["primary"] = [name for name in str(fields["primary"]).split(",") if name]
    return fields
