"""The notifier's steps against a real SMTP server and a real webhook, on a hand clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from notifiers.directory import load_directory
from notifiers.lifecycle import NotifierState
from notifiers.notifier import Notifier, RetryPolicy
from notifiers.routing import Routing
from notifiers.silences import Acknowledgement
from notifiers.store import Store
from rules.events import AlertEvent
from rules.model import Severity
from tests.conftest import Sinks
from tests.notifiers.conftest import STATIONS, T0, Clock, event

RETRY = RetryPolicy(
    timeout=2, first=timedelta(seconds=2), most=timedelta(seconds=60), give_up_after=timedelta(hours=1)
)


def notifier(tmp_path: Path, sinks: Sinks, routing: Routing, clock: Clock) -> Notifier:
    directory = load_directory(environ=sinks.env)
    store = Store(tmp_path / "notifier.db")
    return Notifier(
        store, directory, routing, STATIONS, clock, board_url="http://board.example/", retry=RETRY
    )


def queue(desk: Notifier, clock: Clock, *alerts: AlertEvent) -> None:
    """Take the alerts and let the shipped group wait (30 s) pass: their notices are queued."""
    desk.take(alerts)
    clock.advance(seconds=30)
    desk.tick()


def deliver(desk: Notifier) -> int:
    return asyncio.run(desk.deliver_due())


PM25 = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, value=162, threshold=150)


def test_chinese_subject_and_body_arrive_intact_by_mail_and_by_webhook(
    tmp_path: Path, sinks: Sinks, routing: Routing
) -> None:
    clock = Clock(T0 + timedelta(minutes=40))
    desk = notifier(tmp_path, sinks, routing, clock)
    queue(desk, clock, PM25)
    assert deliver(desk) == 3
    queued = {
        m.contact: m
        for m in desk.store.unwritten_attempts() and [a.message for a in desk.store.unwritten_attempts()]
    }
    by_channel = {(item.channel, item.path): item for item in sinks.inbox.snapshot()}
    mail = by_channel["mail", "jinshui.duty@zzhb.example"]
    hook = by_channel["webhook", "/duty/jinshui"]
    sms = by_channel["webhook", "/sms/jinshui"]
    for item, contact in (
        (mail, "值班邮箱 duty mail"),
        (hook, "值班平台 duty webhook"),
        (sms, "短信网关 SMS gateway"),
    ):
        assert (item.title, item.body) == (queued[contact].title, queued[contact].body)
    assert mail.title == "金水区：1 条告警 | jinshui: 1 alert(s)"
    assert mail.body.startswith(
        "金水区：\n\n■ 【严重】金水区银行学校（金水区）PM2.5 24小时平均浓度超标\n"
        "  读数：162 µg/m³，阈值：150 µg/m³（1小时均值）\n"
    )
    assert (
        "  自 11-28 10:00 起，已持续 40分钟\n  详情：http://board.example/alerts/air.pm25.24h/ZZ-AIR-JS01"
        in mail.body
    )
    assert "依据：GB 3095-2012" in mail.body and "通知编号 金水区#1" in mail.body
    assert "since 11-28 10:00, for 40 min" in mail.body
    assert hook.notice == "金水区#1"
    assert sms.body == (
        "严重：金水区银行学校 PM2.5 24小时平均浓度超标 162/150µg/m³，已40分钟。\n详情 http://board.example/?unit=jinshui"
    )


def test_a_webhook_down_for_a_while_gets_each_notice_exactly_once(
    tmp_path: Path, sinks: Sinks, routing: Routing
) -> None:
    clock = Clock()
    desk = notifier(tmp_path, sinks, routing, clock)
    sinks.webhook.down.set()
    queue(desk, clock, PM25, event("noise.night.sudden", "ZZ-NOI-GC01", value=80, threshold=70))
    for wait in (2, 4, 8, 16, 32, 60):  # the backoff: the webhook stays down for two minutes
        deliver(desk)
        assert deliver(desk) == 0, "nothing is due again before its backoff"
        clock.advance(seconds=wait)
    assert sinks.notices("mail") == {"金水区#1": 1, "管城回族区#1": 1}, (
        "mail goes on while the webhook is down"
    )
    assert sinks.notices("webhook") == {} and sinks.webhook.requests == 3 * 6, "金水区 duty + sms, 管城 duty"
    sinks.webhook.down.clear()
    restarted = notifier(tmp_path, sinks, routing, clock)  # a restart in the middle loses nothing
    clock.advance(minutes=1)
    assert deliver(restarted) == 3
    clock.advance(hours=1)
    restarted.tick()
    assert deliver(restarted) == 0
    assert sinks.notices("webhook") == {"金水区#1": 2, "管城回族区#1": 1}, "金水区: duty and sms, once each"
    outcomes = [(a.message.contact, a.outcome) for a in restarted.store.unwritten_attempts()]
    assert outcomes.count(("值班平台 duty webhook", "retrying")) == 12
    assert outcomes.count(("值班平台 duty webhook", "delivered")) == 2
    assert restarted.store.counts() == {"delivered": 5, "gave_up": 0, "waiting": 0}


def test_a_message_nobody_takes_is_given_up_after_the_configured_time(
    tmp_path: Path, sinks: Sinks, routing: Routing
) -> None:
    clock = Clock()
    desk = notifier(tmp_path, sinks, routing, clock)
    sinks.webhook.down.set()
    queue(desk, clock, event("groundwater.level.low", "ZZ-GW-JWT01", value=61.5, threshold=62))
    while desk.store.counts()["waiting"] > 0:
        deliver(desk)
        clock.advance(seconds=61)
    assert desk.store.counts() == {"delivered": 2, "gave_up": 2, "waiting": 0}


def test_credentials_never_reach_the_log(
    tmp_path: Path, sinks: Sinks, routing: Routing, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(
        "units:\n"
        + "".join(
            f"  - id: u{index}\n    name: {name}\n    kind: district\n    contacts:\n"
            f"      - {{name: mail, url: 'mailto://duty:${{PASSWORD}}@127.0.0.1:1?from=envalert@zz.example&to=a@zz.example'}}\n"
            for index, name in enumerate(["金水区", "市生态环境局"])
        ),
        encoding="utf-8",
    )
    clock = Clock()
    desk = Notifier(
        Store(tmp_path / "n.db"),
        load_directory(directory, environ={"PASSWORD": "s3cret-pw"}),
        routing,
        STATIONS,
        clock,
        board_url="http://board.example",
        retry=RETRY,
    )
    queue(desk, clock, PM25)
    with caplog.at_level(logging.INFO):
        deliver(desk)
    assert "could not deliver 金水区#1 to 金水区 via mail (mailto://127.0.0.1:1/…)" in caplog.text
    assert "s3cret-pw" not in caplog.text
    assert "s3cret-pw" not in str([a.message.target for a in desk.store.unwritten_attempts()])


MAIL, HOOK, SMS = "值班邮箱 duty mail", "值班平台 duty webhook", "短信网关 SMS gateway"


@pytest.mark.parametrize(
    ("alert", "reached"),
    [
        (event("noise.night.leq", "ZZ-NOI-JS01"), {("金水区", MAIL), ("金水区", HOOK)}),
        (PM25, {("金水区", MAIL), ("金水区", HOOK), ("金水区", SMS)}),
        (
            event("ammonia.slip.1h", "ZZ-NH3-GY01", severity=Severity.CRITICAL, value=17, threshold=16),
            {
                (unit, contact)
                for unit in ("巩义水泥厂", "市生态环境局巩义市分局", "市生态环境局")
                for contact in (MAIL, HOOK, SMS)
            },
        ),
        (
            event("groundwater.level.low", "ZZ-GW-JWT01", value=61.5, threshold=62),
            {("市水利局", MAIL), ("市水利局", HOOK), ("惠济区", MAIL), ("惠济区", HOOK)},
        ),
        (
            event("dq.flagged", "ZZ-AIR-ZY01"),
            {("河南省郑州生态环境监测中心", MAIL), ("河南省郑州生态环境监测中心", HOOK)},
        ),
    ],
    ids=["noise-warning", "air-critical", "ammonia-critical", "groundwater", "data-quality"],
)
def test_each_default_route_reaches_exactly_its_units_and_channels(
    tmp_path: Path, sinks: Sinks, routing: Routing, alert: AlertEvent, reached: set[tuple[str, str]]
) -> None:
    clock = Clock()
    desk = notifier(tmp_path, sinks, routing, clock)
    queue(desk, clock, alert)
    assert {(m.unit, m.contact) for m in desk.store.due(clock.now)} == reached


def test_old_event_keys_and_acknowledgements_of_finished_episodes_are_forgotten(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    store.commit_step(NotifierState(), ["old-key"], [], T0)
    store.commit_step(NotifierState(), ["new-key"], [], T0 + timedelta(days=40))
    for started in (T0, T0 + timedelta(days=1)):
        store.add_ack(
            Acknowledgement(fingerprint="air.pm25.24h/ZZ-AIR-JS01", started_at=started, by="张", at=started)
        )
    store.forget(T0 + timedelta(days=10), [("air.pm25.24h/ZZ-AIR-JS01", T0)])
    assert (store.seen("old-key"), store.seen("new-key")) == (False, True)
    assert [ack.started_at for ack in store.acks()] == [T0], (
        "an episode 40 days long keeps its acknowledgement"
    )


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A mail server that takes connections and never greets: a send to it lasts its timeout."""
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def take() -> None:
        with contextlib.suppress(OSError):  # the server is closed at the end of the test
            while True:
                held.append(server.accept()[0])

    threading.Thread(target=take, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for connection in held:
        connection.close()


def test_a_target_that_never_answers_holds_up_only_its_own_messages(
    tmp_path: Path, sinks: Sinks, routing: Routing, silent_server: str
) -> None:
    clock = Clock()
    directory = load_directory(environ={**sinks.env, "ENVALERT_SMTP": silent_server})
    desk = Notifier(
        Store(tmp_path / "n.db"), directory, routing, STATIONS, clock, board_url="http://b/", retry=RETRY
    )
    queue(desk, clock, PM25)

    async def sends() -> tuple[str, set[tuple[str, str]], list[asyncio.Task[bool]]]:
        sending = desk.start_due()
        assert len(sending) == 3, "mail, duty webhook and sms at once (in that order)"
        pending = set(sending)
        while len(pending) > 1:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        (left,) = pending
        received = {(item.channel, item.path) for item in sinks.inbox.snapshot()}
        in_flight = desk.start_due()
        await left
        return left.get_name(), received, in_flight

    left, received, in_flight = asyncio.run(sends())
    assert left == "send 金水区#1 to 值班邮箱 duty mail", (
        "the silent server's send can only end at its timeout"
    )
    assert received == {("webhook", "/duty/jinshui"), ("webhook", "/sms/jinshui")}, (
        "the duty webhook and the sms went while the mail was still on its way"
    )
    assert in_flight == [], "a target's message is not sent twice at once"
    attempts = {
        a.message.contact: a for a in desk.store.unwritten_attempts() if a.message.notice == "金水区#1"
    }
    mail = attempts["值班邮箱 duty mail"]
    assert mail.outcome == "retrying" and mail.seconds >= RETRY.timeout, mail
    assert "127.0.0.1" in mail.error, f"the reason names the server: {mail.error!r}"
