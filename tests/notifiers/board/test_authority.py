"""Who may do what on the board: each user acts for units (and all below them in the directory),
silences are bounded, and tokens, durations and sign-ins from strangers are handled
(docs/SECURITY.md)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from notifiers.board.api import Board
from notifiers.directory import Directory
from notifiers.routing import Routing
from rules.model import Severity
from tests.notifiers.board.conftest import OTHER_TOKEN, TOKEN, Api, make_board
from tests.notifiers.board.test_api import ack_path, take
from tests.notifiers.conftest import event

pytestmark = pytest.mark.hostile

JINSHUI = event("air.pm25.24h", "ZZ-AIR-JS01", value=118, threshold=75)  # 金水区
XINGYANG = event("ammonia.slip.1h", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=6, threshold=5)  # 荥阳市


def silence(api: Api, token: str, matchers: dict[str, str], duration: str = "2h") -> tuple[int, object]:
    reply = api.call(
        "POST", "/api/silences", token, {"matchers": matchers, "duration": duration, "comment": "c"}
    )
    return reply.status, reply.body


def test_a_user_acknowledges_only_the_alerts_of_the_units_they_act_for(board: Board, api: Api) -> None:
    """Any token once acknowledged anything."""
    take(board, JINSHUI, XINGYANG)
    assert api.call("POST", ack_path(XINGYANG), TOKEN, {}).status == 403, "金水区's user, 荥阳市's alert"
    assert api.call("POST", ack_path(JINSHUI), TOKEN, {}).status == 200
    assert api.call("POST", ack_path(XINGYANG), OTHER_TOKEN, {}).status == 200, (
        "the city bureau, all below it"
    )
    assert sorted(a.by for a in board.notifier.store.acks()) == ["值班员张工", "王科长"]


def test_a_user_silences_only_within_their_units_and_never_for_long(board: Board, api: Api) -> None:
    """subject=* until 9999-12-31 was once accepted from any token, and muted everything."""
    status, body = silence(api, TOKEN, {"subject": "*"})
    assert status == 403 and "金水区" in body["error"], body  # type: ignore[index]
    assert silence(api, TOKEN, {"subject": "ZZ-NH3-XY01"})[0] == 403, "another district's station"
    assert silence(api, TOKEN, {"district": "荥阳市"})[0] == 403
    assert silence(api, TOKEN, {"rule": "air.*"})[0] == 403, "unbounded: every district's air alerts"
    assert silence(api, TOKEN, {"unit": "金水区"})[0] == 403, "would mute other units' notices of an alert"
    assert silence(api, TOKEN, {"subject": "ZZ-AIR-JS01", "rule": "air.*"})[0] == 201
    assert silence(api, TOKEN, {"district": "金水区"})[0] == 201
    status, body = silence(api, TOKEN, {"district": "金水区"}, "2d")
    assert status == 400 and "at most 1d" in body["error"], body  # type: ignore[index]
    reply = api.call(
        "POST",
        "/api/silences",
        OTHER_TOKEN,
        {"matchers": {"subject": "*"}, "ends_at": "9999-12-31T00:00:00+00:00", "comment": "c"},
    )
    assert reply.status == 400 and "at most 7d" in reply.body["error"], reply.body
    assert silence(api, OTHER_TOKEN, {"subject": "*"}, "7d")[0] == 201, "the city bureau, within its limit"
    assert silence(api, TOKEN, {"district": "金水区"}, "99999999d")[0] == 400, "not a 500"


def test_a_user_ends_only_silences_within_their_units(board: Board, api: Api) -> None:
    _, made = silence(api, OTHER_TOKEN, {"subject": "ZZ-NH3-XY01"})
    assert api.call("DELETE", f"/api/silences/{made['id']}", TOKEN).status == 403  # type: ignore[index]
    assert api.call("DELETE", f"/api/silences/{made['id']}", OTHER_TOKEN).status == 200  # type: ignore[index]


def test_an_ended_silence_mutes_nothing_from_that_instant(board: Board, api: Api) -> None:
    """DELETE once left a silence in force for another second."""
    _, made = silence(api, TOKEN, {"district": "金水区"})
    assert api.call("DELETE", f"/api/silences/{made['id']}", TOKEN).status == 200  # type: ignore[index]
    assert board.notifier.store.silences(board.now()) == [], "ended at the very instant it was made"


def test_strange_tokens_are_refused_not_crashed_on(board: Board, api: Api) -> None:
    """A non-ASCII token once gave HTTP 500."""
    take(board, JINSHUI)
    reply = api.call("POST", ack_path(JINSHUI), "令牌令牌令牌令牌令牌令牌令牌令牌", {})
    assert reply.status == 401, reply.body
    assert api.get("/api/me", "ünïcödé-token-0123456789").body["name"] is None


def test_failed_sign_ins_are_logged_and_then_refused_for_a_while(
    board: Board, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    take(board, JINSHUI)
    with caplog.at_level(logging.WARNING):
        statuses = [api.call("POST", ack_path(JINSHUI), f"guess-{n:016d}", {}).status for n in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429], statuses
    assert api.call("POST", ack_path(JINSHUI), TOKEN, {}).status == 429, "even the right token, for a while"
    assert "failed sign-in to the board from 127.0.0.1" in caplog.text
    assert "guess-" not in caplog.text, "no token in the log"


def test_the_live_feed_takes_a_ticket_not_a_token_in_its_address(
    tmp_path: Path, directory: Directory, routing: Routing
) -> None:
    """?token= was accepted on every GET: tokens ended up in proxies' access logs."""
    api = Api(make_board(tmp_path, directory, routing, read_auth=True))
    try:
        assert api.get(f"/api/snapshot?token={TOKEN}").status == 401
        assert api.status(f"/api/events?token={TOKEN}")[0] == 401
        ticket = api.call("POST", "/api/events/ticket", TOKEN).body["ticket"]
        assert ticket != TOKEN and len(ticket) >= 32
        assert api.status(f"/api/events?ticket={ticket}")[0] == 200
        assert api.status(f"/api/events?ticket={ticket}")[0] == 401, "a ticket is used once"
    finally:
        api.close()


def test_live_pages_are_capped(tmp_path: Path, directory: Directory, routing: Routing) -> None:
    api = Api(make_board(tmp_path, directory, routing, max_live_pages=2))

    async def pages() -> tuple[list[int], str]:
        async with contextlib.AsyncExitStack() as open_pages:
            statuses = []
            for _ in range(3):
                page = await open_pages.enter_async_context(api.client.request("GET", "/api/events"))
                statuses.append(page.status)
            return statuses, (await page.json())["error"]

    try:
        statuses, refusal = api.loop.run_until_complete(pages())
        assert statuses == [200, 200, 503] and "live pages" in refusal, "two pages open: no third"
    finally:
        api.close()
