"""Catalogue validation: every broken catalogue is refused with the file, the rule, the field, the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from envalert.core.config_files import ConfigError
from envalert.core.contract import Kind
from rules.catalogue import SHIPPED, all_rules, load_catalogue
from rules.model import Catalogue, Selector
from tests.rules.conftest import station

GOOD: dict[str, Any] = {
    "id": "air.test",
    "title": {"zh": "测试", "en": "test"},
    "description": {"zh": "测试规则", "en": "a test rule"},
    "source": "GB 3095-2012",
    "applies_to": {"kinds": ["air"]},
    "compute": {"function": "mean", "metric": "pm25", "window": "24h"},
    "condition": {"op": ">", "warning": 75, "critical": 150},
    "notify": ["district"],
}


def write(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": list(rules)}, allow_unicode=True))
    return path


def changed(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


@pytest.mark.parametrize(
    ("rule", "explains"),
    [
        (
            changed(compute={"function": "mean", "metric": "pm2.5", "window": "24h"}),
            "rules[air.test]: Value error, compute.metric 'pm2.5' is not reported by air stations; "
            "use one of pm25",
        ),
        (changed(compute={"function": "latest", "metric": "nh3"}), "'nh3' is not reported by air stations"),
        (changed(condition={"op": ">"}), "give a warning or a critical threshold"),
        (
            changed(compute={"function": "mean", "metric": "pm25", "window": "0m"}),
            "compute.window 0:00:00 is impossible",
        ),
        (
            changed(compute={"function": "mean", "metric": "pm25", "window": "400d"}),
            "is impossible: use 1m to 366d",
        ),
        (
            changed(compute={"function": "mean", "metric": "pm25", "window": "soon"}),
            "rules[air.test].compute.mean.window: Value error, 'soon' is not a duration",
        ),
        (
            changed(compute={"function": "mean", "metric": "pm25", "window": "9999999999d"}),
            "rules[air.test].compute.mean.window: Value error, '9999999999d' is longer than any duration "
            "this can hold",
        ),
        (
            changed(compute={"function": "mean", "metric": "pm25", "window": "8h", "align": "calendar"}),
            "a calendar window is 1h",
        ),
        (
            changed(compute={"function": "median", "metric": "pm25"}),
            "rules[air.test].compute: Input tag 'median'",
        ),
        (changed(condition={"op": ">", "warning": 150, "critical": 75}), "must be at least as severe"),
        (changed(condition={"op": "=>", "warning": 75}), "rules[air.test].condition.op"),
        (changed(notify=["mayor"]), "rules[air.test].notify[0]"),
        (
            changed(applies_to={"kinds": ["air", "noise"]}, compute={"function": "hourly_aqi"}),
            "hourly_aqi needs air stations",
        ),
        (changed(id="Air Test"), "rules[Air Test].id: String should match pattern"),
        (changed(condition={"op": ">", "warning": {"by": "zone"}}), "rules[air.test].condition.warning"),
        (
            {k: v for k, v in GOOD.items() if k != "source"},
            "rules[air.test].source: Field required; fix: add this field",
        ),
    ],
)
def test_each_broken_rule_is_refused_with_its_place_and_fix(
    tmp_path: Path, rule: dict[str, Any], explains: str
) -> None:
    path = write(tmp_path, rule)
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    assert str(path) in str(caught.value)
    assert explains in str(caught.value)


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rule id 'air\.test' appears twice"):
        load_catalogue(write(tmp_path, GOOD, GOOD))


def test_the_shipped_catalogue_is_valid_and_every_rule_is_exercised() -> None:
    catalogue: Catalogue = load_catalogue(SHIPPED)
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_catalogue_*.py"))
    every_rule = all_rules(catalogue).values()
    untested = [rule.id for rule in every_rule if f'"{rule.id}"' not in tests and "dq.stuck." not in rule.id]
    assert not untested, f"shipped rules without a behaviour test: {untested}"
    assert all(rule.source and rule.title.zh and rule.title.en for rule in every_rule)


@pytest.mark.parametrize(
    ("field", "in_it", "not_in_it"),
    [
        ("zones", {"zone": "1"}, {"zone": "4a"}),
        ("unit_types", {"unit_type": "SCR"}, {"unit_type": "SNCR"}),
        ("sectors", {"sector": "power"}, {"sector": "cement"}),
        ("districts", {"district": "金水区"}, {"district": "中原区"}),
        ("stations", {"id": "S-1"}, {"id": "S-2"}),
    ],
)
def test_a_selector_takes_only_the_stations_its_lists_name(
    field: str, in_it: dict[str, str], not_in_it: dict[str, str]
) -> None:
    chosen = next(iter(in_it.values()))
    selector = Selector.model_validate({"kinds": ["noise"], field: [chosen]})
    assert selector.matches(station(Kind.NOISE, **in_it))
    assert not selector.matches(station(Kind.NOISE, **not_in_it))
    assert not selector.matches(station(Kind.AIR, **in_it)), "every condition must hold, the kind too"
    assert Selector(kinds=[Kind.NOISE]).matches(station(Kind.NOISE, **not_in_it)), "a list not given holds"


def envalert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envalert.command.cli", "rules", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )


def test_rules_check_exits_non_zero_with_every_error(tmp_path: Path) -> None:
    bad = write(
        tmp_path, changed(compute={"function": "latest", "metric": "nh3"}), changed(id="air.two", notify=[])
    )
    checked = envalert("check", str(bad))
    assert checked.returncode == 1
    assert f"Error: {bad}: 2 invalid field(s)" in checked.stderr
    assert "rules[air.test]" in checked.stderr and "rules[air.two].notify" in checked.stderr
    ok = envalert("check")
    assert ok.returncode == 0 and "19 station rules and 4 fleet rules, all valid" in ok.stdout


def test_rules_list_names_every_rule_with_its_source() -> None:
    listed = envalert("list")
    assert listed.returncode == 0
    for rule in all_rules(load_catalogue()).values():
        assert rule.id in listed.stdout and rule.source in listed.stdout


def test_rules_explain_in_both_languages() -> None:
    explained = envalert("explain", "ammonia.slip.1h")
    assert explained.returncode == 0
    for words in ("氨逃逸小时均值超标", "Hourly ammonia slip", "HJ 562-2010", "SCR 2.5 mg/m³", "operator"):
        assert words in explained.stdout
    unknown = envalert("explain", "no.such.rule")
    assert (
        unknown.returncode == 1
        and "no rule 'no.such.rule'" in unknown.stderr
        and "air.aqi.heavy" in unknown.stderr
    )
