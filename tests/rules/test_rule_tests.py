"""``envalert rules test``: promtool's notation, the shipped rule tests, failing and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from envalert.command.cli import main
from rules.catalogue import all_rules, load_catalogue
from rules.rule_tests import MAX_VALUES, expand

SHIPPED_TESTS = sorted((Path(__file__).parents[2] / "rules" / "tests").glob("*.yaml"))
FAILING = """
rule_files: [default]
start: 2026-12-01T00:00:00+08:00
interval: 1m
stations: [{id: AIR-1, kind: air, name: 测试, district: 金水区}]
input_series: [{station: AIR-1, metric: pm25, values: "80x11"}]
tests:
  - eval_time: 12m
    rule: air.pm25.24h
    exp_alerts: [{rule: air.pm25.24h, subject: AIR-1, severity: warning}]
"""


@pytest.mark.parametrize(
    ("values", "expanded"),
    [
        ("1+2x3", [1, 3, 5, 7]),
        ("5x2", [5, 5, 5]),
        ("3-1x2", [3, 2, 1]),
        ("-1.5e1+0.5x1", [-15, -14.5]),
        ("_x2 stale 4 _", [None, None, None, 4, None]),
        ("1 2", [1, 2]),
        ("5 _x3 7", [5, None, None, None, 7]),
    ],
)
def test_series_in_promtools_notation(values: str, expanded: list[float | None]) -> None:
    assert expand(values) == expanded


def test_a_series_of_exactly_the_most_values_is_taken() -> None:
    assert len(expand(f"_x{MAX_VALUES}")) == len(expand(f"1x{MAX_VALUES - 1}")) == MAX_VALUES
    assert len(expand(f"1 _x{MAX_VALUES - 1}")) == MAX_VALUES


NOT_A_VALUE = "is not a value: write a number, a+bxN, axN, _ or stale"
TOO_MANY = f"makes more than {MAX_VALUES:,} values"
NOT_FINITE = "holds a value that is not a finite number"


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ("1x", f"'1x' {NOT_A_VALUE}"),
        ("high", f"'high' {NOT_A_VALUE}"),
        ("1+x3", f"'1+x3' {NOT_A_VALUE}"),
        ("nan", f"'nan' {NOT_FINITE}"),
        ("inf", f"'inf' {NOT_FINITE}"),
        # The refusal quotes the first 40 characters of a long series.
        (
            "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 -inf",
            f"'1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 1' {NOT_FINITE}",
        ),
        (f"1x{MAX_VALUES}", f"'1x{MAX_VALUES}' {TOO_MANY}"),
        (f"1 1x{MAX_VALUES - 1}", f"'1x{MAX_VALUES - 1}' {TOO_MANY}"),
        (f"1 _x{MAX_VALUES}", f"'_x{MAX_VALUES}' {TOO_MANY}"),
        ("_x10000000000", f"'_x10000000000' {TOO_MANY}"),
        ("1x5 " * 400_000, f"'1x5' {TOO_MANY}"),
        # A single value past the most is refused after it, without a token to blame.
        (f"_x{MAX_VALUES} 5", f"more than {MAX_VALUES:,} values"),
    ],
    ids=[
        "1x",
        "high",
        "1+x3",
        "nan",
        "inf",
        "-inf after 40 characters",
        "1xMAX",
        "1 1x(MAX-1)",
        "1 _xMAX",
        "_x10000000000",
        "1x5 400000 times",
        "_xMAX 5",
    ],
)
def test_a_series_that_is_not_one_says_what_is_wrong_with_it(values: str, refused: str) -> None:
    with pytest.raises(ValueError) as raised:
        expand(values)
    assert str(raised.value) == refused


def test_the_shipped_rule_tests_pass() -> None:
    result = CliRunner().invoke(main, ["rules", "test", *map(str, SHIPPED_TESTS)])
    assert result.exit_code == 0, result.output
    assert result.output.count("passed") == len(SHIPPED_TESTS)


def test_every_shipped_rule_is_seen_firing_in_a_shipped_test() -> None:
    fired = {
        alert["rule"]
        for path in SHIPPED_TESTS
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for alert in test.get("exp_alerts") or []
    }
    assert set(all_rules(load_catalogue())) - fired == set()


def test_a_failing_test_prints_expected_and_got_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(path)])
    assert result.exit_code == 1
    assert "test 1 (eval_time 12m = 2026-12-01T00:12:00+08:00, rule air.pm25.24h)" in result.output
    assert "alerts expected: [air.pm25.24h AIR-1 warning]" in result.output
    assert "alerts got:      []" in result.output


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("metric: pm25", "metric: pm99"), "input_series[0].metric: 'pm99' is not a air metric"),
        (('values: "80x11"', 'values: "80y11"'), "input_series[0].values: '80y11' is not a value"),
        (("rule: air.pm25.24h\n", "rule: air.pm26\n"), "tests[0]: no rule 'air.pm26'"),
        (("interval: 1m", "interval: soon"), "interval"),
        (("station: AIR-1", "station: AIR-9"), "input_series[0].station: 'AIR-9' is not in the stations"),
    ],
)
def test_a_malformed_file_names_the_field_and_exits_2(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    path = tmp_path / "malformed.yaml"
    path.write_text(FAILING.replace(*change), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(path)])
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_the_readmes_example_passes(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("rule_files: [default]            # the shipped catalogue")
    path = tmp_path / "example.yaml"
    path.write_text(readme[start : readme.index("```", start)], encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(path)])
    assert result.exit_code == 0 and "2 of 2 tests passed" in result.output, result.output
