"""What a silence mutes: its matchers, all of them, for exactly its time range."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from notifiers.silences import Silence, labels
from rules.fleet import CITY
from tests.notifiers.conftest import STATIONS, T0, event

START, END = T0, T0 + timedelta(hours=2)
TICK = timedelta(microseconds=1)
LABELS = {"rule": "air.pm25.24h", "subject": "ZZ-AIR-JS01", "district": "金水区", "severity": "warning"}


def silence(**matchers: str) -> Silence:
    return Silence(id="s", matchers=matchers, starts_at=START, ends_at=END, created_by="李工", comment="检修")


@pytest.mark.parametrize(
    ("now", "mutes"),
    [(START - TICK, False), (START, True), (END - TICK, True), (END, False)],
    ids=["before", "at its start", "at its last instant", "at its end"],
)
def test_a_silence_mutes_from_its_start_up_to_but_not_at_its_end(now: datetime, mutes: bool) -> None:
    assert silence(rule="air.*").mutes(LABELS, [], now) is mutes


@pytest.mark.parametrize(
    ("matchers", "units", "mutes"),
    [
        ({"rule": "air.*", "district": "金水区"}, [], True),
        ({"rule": "air.*", "district": "二七区"}, [], False),
        ({"rule": "air.pm25.24h"}, [], True),
        ({"rule": "air.pm25"}, [], False),
        ({"unit": "金水区"}, ["市生态环境局", "金水区"], True),
        ({"unit": "金水区"}, [], False),
        ({"kind": ""}, [], True),
        ({"kind": "*"}, [], True),
        ({"kind": "?*"}, [], False),
    ],
    ids=[
        "every matcher holds",
        "one does not",
        "an exact value",
        "a value is not a prefix",
        "any unit the alert goes to",
        "an alert going to no one",
        "a label the stored alert lacks is empty",
        "which any pattern of * matches",
        "and one needing a character does not",
    ],
)
def test_a_silence_mutes_only_alerts_its_matchers_all_match(
    matchers: dict[str, str], units: list[str], mutes: bool
) -> None:
    assert silence(**matchers).mutes(LABELS, units, START) is mutes


def test_an_alerts_labels_say_what_and_where_and_are_empty_where_they_do_not_apply() -> None:
    station = STATIONS["ZZ-NH3-XY01"]
    assert labels(event("ammonia.slip.1h", "ZZ-NH3-XY01"), station) == {
        "rule": "ammonia.slip.1h",
        "subject": "ZZ-NH3-XY01",
        "district": "荥阳市",
        "severity": "warning",
        "kind": "ammonia",
        "subject_kind": "station",
    }
    over = event("city.heavy-days.budget", CITY, "resolved", None)
    assert labels(over, None) == {
        "rule": "city.heavy-days.budget",
        "subject": CITY,
        "district": "",
        "severity": "",
        "kind": "",
        "subject_kind": "city",
    }


def test_a_silence_ended_early_mutes_nothing_from_then_and_one_not_begun_never_mutes() -> None:
    midway = START + timedelta(hours=1)
    ended = silence(rule="air.*").ended(midway)
    assert (ended.ends_at, ended.mutes(LABELS, [], midway - TICK), ended.mutes(LABELS, [], midway)) == (
        midway,
        True,
        False,
    )
    unborn = silence(rule="air.*").ended(START - timedelta(hours=1))
    assert unborn.ends_at == START and not unborn.mutes(LABELS, [], START)


def test_a_silence_names_what_is_wrong_with_it() -> None:
    with pytest.raises(ValueError, match="unknown label\\(s\\) station; silences match on rule, subject"):
        silence(station="ZZ-1")
    with pytest.raises(ValueError, match="ends_at must come after starts_at"):
        Silence(id="s", matchers={"rule": "*"}, starts_at=END, ends_at=START, created_by="李工", comment="x")
