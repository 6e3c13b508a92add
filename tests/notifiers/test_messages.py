"""Message texts: what each variant says, in Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notifiers.directory import Contact, Directory
from notifiers.lifecycle import Notice
from notifiers.messages import lasted_en, lasted_zh, render
from rules.model import Severity
from tests.notifiers.conftest import T0, event

WELL = event("groundwater.level.low", "ZZ-GW-JWT01", value=61.5, threshold=62)
SLIP = event("ammonia.slip.1h", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=6, threshold=5)
OVER = event(
    "ammonia.slip.1h",
    "ZZ-NH3-XY01",
    "resolved",
    Severity.CRITICAL,
    at=T0 + timedelta(hours=2),
    value=1,
    threshold=2.5,
    started_at=T0,
)


def notice(**fields: object) -> Notice:
    return Notice(
        **{
            "id": "荥阳电厂#7",
            "unit": "荥阳电厂",
            "reason": "alerts",
            "tags": ["duty"],
            "created_at": T0 + timedelta(hours=1, minutes=5),
            "firing": [],
            "resolved": [],
            "ongoing": 0,
            **fields,
        }
    )


def contact(variant: str, language: str) -> Contact:
    return Contact(name="c", url="json://x", variant=variant, language=language)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minutes", "zh", "en"),
    [
        (0, "不到1分钟", "under a minute"),
        (65, "1小时5分钟", "1 h 5 min"),
        (120, "2小时", "2 h"),
        (1441, "1天1分钟", "1 d 1 min"),
    ],
)
def test_how_long_it_lasted(minutes: int, zh: str, en: str) -> None:
    assert (lasted_zh(timedelta(minutes=minutes)), lasted_en(timedelta(minutes=minutes))) == (zh, en)


def test_an_escalation_in_a_long_message_names_who_did_not_acknowledge(directory: Directory) -> None:
    branch = directory.find("市生态环境局荥阳市分局")
    assert branch is not None
    title, body = render(
        notice(
            unit=branch.name,
            reason="escalation",
            firing=[SLIP],
            escalated_from={SLIP.fingerprint: ["荥阳电厂"]},
        ),
        branch,
        contact("long", "zh"),
        "http://board",
    )
    assert title == "【升级】市生态环境局荥阳市分局：1 条告警"
    assert "以下严重告警在规定时间内未被确认，现升级通知贵单位。" in body
    assert "■ 【严重】荥阳电厂1号机组SCR出口（荥阳市）氨逃逸小时均值超标" in body
    assert "  未确认单位：荥阳电厂\n  详情：http://board/alerts/ammonia.slip.1h/ZZ-NH3-XY01" in body
    assert "已持续 1小时5分钟" in body and "依据：HJ 562-2010" in body


def test_a_resolution_tells_the_worst_of_its_episode(directory: Directory) -> None:
    plant = directory.find("荥阳电厂")
    assert plant is not None
    title, body = render(
        notice(resolved=[OVER], peaks={OVER.fingerprint: SLIP}), plant, contact("long", "zh+en"), "http://b"
    )
    assert title == "荥阳电厂：1 条告警已解除 | xingyang-power: 1 alert(s) resolved"
    assert (
        "  期间最严重【严重】读数：6 mg/m³，阈值：5 mg/m³（1小时均值）\n  最新读数：1 mg/m³，阈值：2.5 mg/m³"
        in body
    )
    assert "于 11-28 12:00 解除，共持续 2小时" in body
    assert "worst: [CRITICAL] value 6 mg/m³, threshold 5 mg/m³ (1 h mean)" in body and "after 2 h" in body


def test_a_short_message_fits_an_sms(directory: Directory) -> None:
    district = directory.find("惠济区")
    assert district is not None
    many = [event("groundwater.level.low", "ZZ-GW-JWT01", at=T0 + timedelta(minutes=m)) for m in range(5)]
    title, body = render(
        notice(unit="惠济区", reason="repeat", firing=many), district, contact("short", "zh"), "http://b"
    )
    assert title == "惠济区环境告警"
    lines = body.splitlines()
    assert lines[0] == "【仍在持续】预警：九五滩水源井1号 地下水位低于预警水位 100/75m，已1小时5分钟。"
    assert len(lines) == 4 and lines[-1] == "另2条。详情 http://b/?unit=huiji" and len(body) < 200
    _, english = render(notice(firing=[WELL]), district, contact("short", "en"), "http://b")
    assert english.startswith(
        "WARNING: 九五滩水源井1号 Groundwater level below the well's warning level 61.5/62 m, for 1 h 5 min."
    )
