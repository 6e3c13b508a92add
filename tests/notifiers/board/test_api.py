"""Every endpoint of the board's API on a real HTTP server: reads, writes with and without a
token, bad input, the audit log, the live feed, OpenAPI and /metrics."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from envalert.core.config_files import ConfigError
from notifiers.board.api import ROUTES, Board, start_board
from notifiers.board.users import BoardUsers
from notifiers.directory import Directory
from notifiers.routing import Routing
from notifiers.store import Attempt
from rules.events import AlertEvent
from rules.figures import Figure
from rules.model import Severity
from tests.notifiers.board.conftest import OTHER_TOKEN, TOKEN, Api, make_board
from tests.notifiers.conftest import T0, event

PM25 = event("air.pm25.24h", "ZZ-AIR-JS01", value=118, threshold=75)
SLIP = event("ammonia.slip.1h", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=6, threshold=5)
NOISE = event("noise.night.leq", "ZZ-NOI-JS01", value=58, threshold=45)


def ack_path(alert: AlertEvent) -> str:
    """As the page writes it: the fingerprint has slashes (rule/station), so it is escaped."""
    return f"/api/alerts/{quote(alert.fingerprint, safe='')}/ack"


def take(board: Board, *alerts: object) -> None:
    """What the service does with each batch from Kafka: the notifier takes it, the feed shows it."""
    board.live.saw_transitions(board.notifier.take(alerts))  # type: ignore[arg-type]


def test_the_snapshot_shows_firing_alerts_with_what_where_how_much_and_since(board: Board, api: Api) -> None:
    take(board, PM25, SLIP, event("air.aqi.heavy", "ZZ-AIR-ZY01", "pending"))
    reply = api.get("/api/snapshot")
    assert reply.status == 200
    alerts = reply.body["alerts"]
    assert [a["rule"] for a in alerts] == ["ammonia.slip.1h", "air.pm25.24h"], "critical first, no pending"
    slip = alerts[0]
    assert slip["station_name"] and slip["district"] == "荥阳市" and slip["kind"] == "ammonia"
    assert (slip["value"], slip["threshold"], slip["unit"]) == (6, 5, "mg/m³")
    assert slip["since"] == "2026-11-28T02:00:00Z" and slip["acknowledged"] is None
    assert "荥阳电厂" in slip["units"]
    assert reply.body["counts"] == {
        "firing": 2,
        "critical": 1,
        "warning": 1,
        "acknowledged": 0,
        "silenced": 0,
    }
    assert [e["key"] for e in reply.body["feed"]] == [SLIP.key, PM25.key]
    assert len(reply.body["stations"]) == 39


def test_alerts_are_filtered_by_district_kind_and_severity(board: Board, api: Api) -> None:
    take(board, PM25, SLIP, NOISE)

    def rules(query: str) -> list[str]:
        return [a["rule"] for a in api.get(f"/api/alerts?{query}").body]

    assert rules("district=荥阳市") == ["ammonia.slip.1h"]
    assert sorted(rules("district=金水区")) == ["air.pm25.24h", "noise.night.leq"]
    assert rules("kind=noise") == ["noise.night.leq"]
    assert rules("severity=critical") == ["ammonia.slip.1h"]
    assert rules("district=金水区&kind=air&severity=warning") == ["air.pm25.24h"]
    assert rules("district=中牟县") == []


def test_writes_without_a_users_token_are_refused_and_change_nothing(board: Board, api: Api) -> None:
    take(board, PM25)
    path = ack_path(PM25)
    for token in (None, "not-a-token", TOKEN[:-1]):
        reply = api.call("POST", path, token, {"comment": "x"})
        assert reply.status == 401 and "Bearer" in reply.headers["WWW-Authenticate"], token
        assert "token" in reply.body["error"]
    silence = {"matchers": {"rule": "air.*"}, "duration": "1h", "comment": "检修"}
    assert api.call("POST", "/api/silences", None, silence).status == 401
    assert api.call("DELETE", "/api/silences/abc", None).status == 401
    assert board.notifier.store.acks() == [] and board.notifier.store.silences() == []
    assert board.notifier.store.audit() == []


def test_a_board_without_users_is_read_only(tmp_path: Path, directory: Directory, routing: Routing) -> None:
    board = make_board(tmp_path, directory, routing, users=BoardUsers([]))
    api = Api(board)
    try:
        take(board, PM25)
        reply = api.call("POST", ack_path(PM25), TOKEN, {})
        assert reply.status == 403 and "ENVALERT_BOARD_USERS_FILE" in reply.body["error"]
        assert api.get("/api/snapshot").status == 200
    finally:
        api.close()


def test_an_acknowledgement_records_who_and_when_and_shows_on_the_alert(board: Board, api: Api) -> None:
    take(board, PM25)
    board.notifier.clock.advance(minutes=3)  # type: ignore[attr-defined]
    reply = api.call("POST", ack_path(PM25), TOKEN, {"comment": "已派人到站"})
    assert reply.status == 200 and reply.body["by"] == "值班员张工"
    shown = api.get("/api/alerts").body[0]["acknowledged"]
    assert shown == {"by": "值班员张工", "at": "2026-11-28T02:03:00Z", "comment": "已派人到站"}
    [ack] = board.notifier.store.acks()
    assert (ack.fingerprint, ack.started_at, ack.by) == (PM25.fingerprint, PM25.started_at, "值班员张工")
    audit = api.get("/api/audit").body
    assert audit == [
        {
            "at": "2026-11-28T02:03:00Z",
            "by": "值班员张工",
            "action": "acknowledge",
            "target": PM25.fingerprint,
            "detail": "已派人到站",
        }
    ]
    assert api.get("/api/snapshot").body["counts"]["acknowledged"] == 1


def test_bad_acknowledgements_name_what_is_wrong(board: Board, api: Api) -> None:
    take(board, PM25, event("air.pm25.24h", "ZZ-AIR-ZY01", "pending"))
    unknown = api.call("POST", "/api/alerts/nope/ack", TOKEN, {})
    assert unknown.status == 404 and unknown.body == {
        "error": "no firing alert 'nope'",
        "field": "fingerprint",
    }
    extra = api.call("POST", ack_path(PM25), TOKEN, {"comment": "x", "by": "冒名"})
    assert extra.status == 400 and extra.body["field"] == "by" and "Extra inputs" in extra.body["error"]
    long = api.call("POST", ack_path(PM25), TOKEN, {"comment": "长" * 501})
    assert long.status == 400 and long.body["field"] == "comment"
    broken = api.call("POST", ack_path(PM25), TOKEN, "{not json")
    assert broken.status == 400 and "JSON" in broken.body["error"]
    assert board.notifier.store.acks() == []


def test_silences_are_created_listed_shown_on_alerts_and_expired_by_named_users(
    board: Board, api: Api
) -> None:
    take(board, PM25, SLIP)
    made = api.call(
        "POST",
        "/api/silences",
        TOKEN,
        {"matchers": {"rule": "air.*", "district": "金水区"}, "duration": "2h", "comment": "站房检修"},
    )
    assert made.status == 201 and made.body["created_by"] == "值班员张工"
    assert made.body["ends_at"] == "2026-11-28T04:00:00Z"
    silence_id = made.body["id"]
    assert [s["id"] for s in api.get("/api/silences").body] == [silence_id]
    silenced = {a["rule"]: a["silenced_by"] for a in api.get("/api/alerts").body}
    assert silenced == {"air.pm25.24h": [silence_id], "ammonia.slip.1h": []}
    board.notifier.clock.advance(minutes=10)  # type: ignore[attr-defined]
    ended = api.call("DELETE", f"/api/silences/{silence_id}", OTHER_TOKEN)
    assert ended.status == 200 and ended.body["ends_at"] == "2026-11-28T02:10:00Z"
    assert api.get("/api/silences").body == []
    assert [s["id"] for s in api.get("/api/silences?all=1").body] == [silence_id]
    audit = [(e["action"], e["by"], e["target"]) for e in api.get("/api/audit").body]
    assert audit == [("expire", "王科长", silence_id), ("silence", "值班员张工", silence_id)]
    assert api.call("DELETE", "/api/silences/nope", TOKEN).status == 404


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            {"matchers": {"station": "x"}, "duration": "1h", "comment": "c"},
            "matchers",
            "unknown label(s) station",
        ),
        ({"matchers": {}, "duration": "1h", "comment": "c"}, "matchers", "at least 1"),
        ({"matchers": {"rule": "x"}, "comment": "c"}, "duration", "exactly one of duration and ends_at"),
        ({"matchers": {"rule": "x"}, "duration": "soon", "comment": "c"}, "duration", "soon"),
        ({"matchers": {"rule": "x"}, "duration": "1h", "comment": ""}, "comment", "at least 1"),
        (
            {"matchers": {"rule": "x"}, "ends_at": "2026-11-28T01:00:00+00:00", "comment": "c"},
            None,
            "ends_at must come after starts_at",
        ),
        (
            {"matchers": {"rule": "x"}, "ends_at": "2026-11-28T09:00:00", "comment": "c"},
            "ends_at",
            "timezone",
        ),
    ],
)
def test_bad_silences_are_refused_naming_the_field(
    api: Api, board: Board, body: dict[str, object], field: str | None, says: str
) -> None:
    reply = api.call("POST", "/api/silences", TOKEN, body)
    assert reply.status == 400, reply.body
    assert reply.body["field"] == field and says in reply.body["error"], reply.body
    assert board.notifier.store.silences() == []


def test_reads_need_a_token_when_configured(tmp_path: Path, directory: Directory, routing: Routing) -> None:
    api = Api(make_board(tmp_path, directory, routing, read_auth=True))
    try:
        for path in ("/api/snapshot", "/api/alerts", "/api/audit", "/metrics", "/api/events"):
            assert api.get(path).status == 401, path
        assert api.get("/api/snapshot", TOKEN).status == 200
        assert api.get("/api/me", TOKEN).body == {"name": "值班员张工", "can_write": True, "read_auth": True}
        assert api.get("/board").status == 200, "the page itself asks for the token"
        assert api.get("/api/openapi.json").status == 200
    finally:
        api.close()


def test_who_am_i(api: Api) -> None:
    assert api.get("/api/me").body == {"name": None, "can_write": False, "read_auth": False}
    assert api.get("/api/me", OTHER_TOKEN).body["name"] == "王科长"


def test_city_figures_come_from_the_latest_city_figures(board: Board, api: Api) -> None:
    city = {"scope": "city", "area": "郑州市"}
    figures = [
        Figure(measurement="aqi_hourly", tags=city, fields={"aqi": 80, "primary": "pm25"}, at=T0),
        Figure(
            measurement="aqi_hourly",
            tags=city,
            fields={"aqi": 230, "primary": "pm25"},
            at=T0 + timedelta(hours=1),
        ),
        Figure(
            measurement="aqi_hourly",
            tags={**city, "scope": "district", "area": "金水区"},
            fields={"aqi": 400},
            at=T0 + timedelta(hours=2),
        ),
        Figure(
            measurement="plan_progress",
            tags=city,
            fields={"heavy_days": 3, "days": 331, "heavy_budget_used_pct": 58.8},
            at=T0,
        ),
        Figure(
            measurement="noise_compliance",
            tags=city,
            fields={"rolling_rate": 83.3, "rolling_nights": 30},
            at=T0,
        ),
    ]
    for figure in figures:
        board.live.saw_figure(figure)
    assert api.get("/api/city").body == {
        "aqi": 230,
        "aqi_hour": "2026-11-28T03:00:00Z",
        "category_zh": "重度污染",
        "category_en": "heavily polluted",
        "level": "五级",
        "primary": "pm25",
        "heavy_days": 3,
        "days": 331,
        "heavy_budget_used_pct": 58.8,
        "heavy_days_target_pct": 1.4,
        "night_compliance_pct": 83.3,
        "night_compliance_nights": 30,
        "night_compliance_target_pct": 85.0,
        "aqi_lacking": None,
    }


def test_an_hour_without_enough_data_shows_as_such_not_as_the_hour_before(board: Board, api: Api) -> None:
    city = {"scope": "city", "area": "郑州市"}
    board.live.saw_figure(Figure(measurement="aqi_hourly", tags=city, fields={"aqi": 80}, at=T0))
    lacking = Figure(
        measurement="aqi_hourly",
        tags=city,
        fields={"valid": False, "lacking": "pm25"},
        at=T0 + timedelta(hours=1),
    )
    board.live.saw_figure(lacking)
    shown = api.get("/api/city").body
    assert (shown["aqi"], shown["aqi_hour"], shown["aqi_lacking"]) == (None, "2026-11-28T03:00:00Z", "pm25")


def test_an_alert_s_reading_is_worded_as_in_its_message_and_notices(board: Board, api: Api) -> None:
    """The board shows the reading as the alert's own message and the notices do (rules/events.py),
    not with wording of its own."""
    take(
        board,
        SLIP,
        event("dq.silent", "ZZ-AIR-JS01", severity=Severity.CRITICAL, value=130.25, threshold=120),
    )
    alerts = {a["rule"]: a for a in api.get("/api/snapshot").body["alerts"]}
    assert (alerts["ammonia.slip.1h"]["reading_zh"], alerts["ammonia.slip.1h"]["reading_en"]) == (
        "6 / 5 mg/m³",
        "6 / 5 mg/m³",
    )
    assert (alerts["dq.silent"]["reading_zh"], alerts["dq.silent"]["reading_en"]) == (
        "130.2 / 120 分钟",
        "130.2 / 120 min",
    )
    assert (
        "130.2 分钟" in alerts["dq.silent"]["message_zh"] and "130.2 min" in alerts["dq.silent"]["message_en"]
    )


def test_station_health_says_silent_flagged_unseen_or_when_last_seen(board: Board, api: Api) -> None:
    take(
        board,
        event("dq.silent", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=130, threshold=120),
        event("dq.flagged", "ZZ-AIR-JS01", value=40, threshold=30),
    )
    board.live.saw_readings(
        [("ZZ-AIR-JS01", T0), ("ZZ-NOI-JS01", T0), ("ZZ-NOI-JS01", T0 - timedelta(hours=1))]
    )
    health = {s["id"]: s for s in api.get("/api/stations").body}
    assert health["ZZ-NH3-XY01"]["status"] == "silent" and health["ZZ-NH3-XY01"]["problems"] == ["dq.silent"]
    assert (
        health["ZZ-AIR-JS01"]["status"] == "flagged"
        and health["ZZ-AIR-JS01"]["last_seen"] == "2026-11-28T02:00:00Z"
    )
    assert (
        health["ZZ-NOI-JS01"]["status"] == "ok"
        and health["ZZ-NOI-JS01"]["last_seen"] == "2026-11-28T02:00:00Z"
    )
    assert health["ZZ-AIR-ZY01"]["status"] == "unseen" and health["ZZ-AIR-ZY01"]["last_seen"] is None


def test_the_live_feed_pushes_transitions_and_writes_as_they_happen(board: Board, api: Api) -> None:
    async def listen() -> list[str]:
        async with api.client.get("/api/events") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            assert await stream.content.readuntil(b"\n\n") == b"event: hello\ndata: {}\n\n"
            take(board, PM25)
            board.live.announce("ack", {"fingerprint": PM25.fingerprint, "by": "值班员张工"})
            told = [(await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)).decode() for _ in range(2)]
            board.live.close()  # as when the notifier stops: open pages do not hold it up
            assert await asyncio.wait_for(stream.content.read(), 5) == b""
            return told

    transition, ack = api.loop.run_until_complete(listen())
    assert transition.startswith("event: transition\n") and PM25.key in transition and "金水区" in transition
    assert ack.startswith("event: ack\n") and "值班员张工" in ack


def test_metrics_count_readings_rejects_alerts_notifications_and_lag(board: Board, api: Api) -> None:
    take(board, PM25, SLIP)
    api.call("POST", ack_path(SLIP), OTHER_TOKEN, {})
    board.live.saw_readings([("ZZ-AIR-JS01", T0)] * 30)
    board.live.rejected.update({"out_of_range": 2, "invalid_json": 1})
    board.notifier.clock.advance(seconds=30)  # type: ignore[attr-defined]
    board.notifier.tick()  # the group waits are over: messages are queued
    store = board.notifier.store
    first, second = store.due(board.notifier.clock())[:2]
    store.record(Attempt(first, board.notifier.clock(), "delivered", 0.1, ""), None)
    store.record(Attempt(second, board.notifier.clock(), "retrying", 0.1, "refused"), board.notifier.clock())
    board.lag.update({("envalert", "readings", 0): 12, ("envalert-notifier", "alerts", 1): 0})
    text = api.get("/metrics").body
    values = dict(re.findall(r"^(envalert_\S+) (\S+)$", text, re.MULTILINE))
    assert values["envalert_readings_total"] == "30.0"
    assert float(values["envalert_readings_per_second"]) == 3.0
    assert values['envalert_readings_rejected_total{reason="out_of_range"}'] == "2.0"
    assert values['envalert_alerts{severity="critical",state="firing"}'] == "1.0"
    assert values['envalert_alerts{severity="critical",state="acknowledged"}'] == "1.0"
    assert values['envalert_alerts{severity="warning",state="firing"}'] == "1.0"
    assert values['envalert_alerts{severity="warning",state="acknowledged"}'] == "0.0"
    assert values['envalert_notification_attempts_total{outcome="delivered"}'] == "1.0"
    assert values["envalert_notification_failures_total"] == "1.0"
    assert float(values["envalert_notifications_waiting"]) >= 1
    assert values['envalert_consumer_lag{group="envalert",partition="0",topic="readings"}'] == "12.0"
    assert values['envalert_consumer_lag{group="envalert-notifier",partition="1",topic="alerts"}'] == "0.0"


def test_the_openapi_document_covers_every_api_route(api: Api) -> None:
    spec = api.get("/api/openapi.json").body
    assert spec["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    served = {
        (method, path.replace(":.+", ""))
        for method, path, _ in ROUTES
        if path.startswith(("/api/", "/metrics"))
    }
    assert served - {("GET", "/api/openapi.json")} == documented
    schemas = spec["components"]["schemas"]
    assert {"BoardAlert", "Snapshot", "SilenceRequest", "AuditEntry", "Problem"} <= set(schemas)
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(spec)))
    assert refs <= set(schemas), refs - set(schemas)


def test_the_page_and_its_files_are_served(api: Api) -> None:
    page = api.get("/board")
    assert page.status == 200 and "郑州市生态环境监测告警看板" in page.body
    assert api.get("/board/static/board.js").headers["Content-Type"].startswith("application/javascript")
    assert api.get("/board/static/board.css").status == 200
    assert api.get("/board/static/missing.js").status == 404
    assert api.get("/board/static/index.html").status == 404
    assert api.call("GET", "/", None).status == 200, "/ leads to the board"


def test_message_links_lead_to_the_page_and_to_a_units_alerts(board: Board, api: Api) -> None:
    """Messages link to {board}/alerts/<fingerprint> and {board}/?unit=<unit id>."""
    take(board, PM25, SLIP, NOISE)
    assert "告警看板" in api.get(f"/board/alerts/{quote(PM25.fingerprint, safe='')}").body
    assert "告警看板" in api.get("/board/?unit=jinshui").body

    def rules(unit: str) -> list[str]:
        return sorted(a["rule"] for a in api.get(f"/api/alerts?unit={quote(unit)}").body)

    assert rules("jinshui") == rules("金水区") == ["air.pm25.24h", "noise.night.leq"]
    assert rules("市生态环境局") == ["ammonia.slip.1h"]
    assert rules("nobody") == []
    assert api.get("/api/snapshot").body["units"]["jinshui"] == "金水区"


def test_a_busy_port_fails_at_start_naming_the_setting(board: Board) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ConfigError, match=f"cannot serve the board on 127.0.0.1:{port}.*ENVALERT_BOARD_PORT"
        ):
            asyncio.run(start_board(board, "127.0.0.1", port))
