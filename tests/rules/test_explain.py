"""What `envalert rules explain` says of each rule, word for word.

The golden file is the explanation of every shipped rule and of two made-up rules that use what
the shipped ones do not (a trailing and a calendar mean, a wait in time, a multiple of a
standard's limit). After a deliberate change, read the new text and write it back with:

    python -m tests.rules.test_explain > tests/rules/golden/explain.txt
"""

from __future__ import annotations

from envalert.core.contract import Kind
from rules.catalogue import all_rules, explain, load_catalogue
from rules.model import Mean, Rule, Selector
from tests.rules import golden

MADE_UP = Rule.model_validate(
    {
        "id": "air.pm25.made-up",
        "title": {"zh": "测试规则", "en": "A made-up rule"},
        "description": {"zh": "只为说明文字而设。", "en": "Only here for its explanation."},
        "source": "GB 3095-2012",
        "applies_to": {"kinds": ["air"], "districts": ["金水区", "二七区"]},
        "compute": {"function": "mean", "metric": "pm25", "window": "30m", "min_samples": 3},
        "condition": {
            "op": ">",
            "warning": {"standard": "gb3095_pm25_24h"},
            "critical": {"standard": "gb3095_pm25_24h", "times": 2},
            "pending_count": 3,
            "pending_for": "10m",
        },
        "notify": ["district", "city_bureau"],
    }
)


#: The same with a calendar mean, a wait in time alone, and stations named besides a district.
CALENDAR = MADE_UP.model_copy(
    update={
        "id": "air.pm25.made-up-calendar",
        "compute": Mean(function="mean", metric="pm25", window="1d", align="calendar", min_samples=20),
        "applies_to": Selector(
            kinds=[Kind.AIR], districts=["金水区"], stations=["ZZ-AIR-JS01", "ZZ-AIR-JS02"]
        ),
        "condition": MADE_UP.condition.model_copy(update={"pending_count": 1}),
    }
)


def text() -> str:
    rules = [*all_rules(load_catalogue()).values(), MADE_UP, CALENDAR]
    return "\n\n".join(explain(rule) for rule in rules) + "\n"


def test_every_rule_is_explained_as_the_golden_file_says() -> None:
    golden.assert_matches("explain.txt", text(), "the explanations")


if __name__ == "__main__":
    print(text(), end="")
