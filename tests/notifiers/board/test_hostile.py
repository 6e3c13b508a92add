"""The board against hostile input and hostile pages: a forged alert event's text is shown,
never run; the page forbids framing and sniffing; a write asks before it is made
(docs/SECURITY.md). Headless Chromium against a board served on a real port."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from envalert.command.host import free_port
from notifiers.board.api import Board, start_board
from notifiers.directory import Directory
from notifiers.routing import Routing
from notifiers.silences import Silence
from rules.events import AlertEvent
from rules.model import Severity
from tests.notifiers.board.conftest import TOKEN, make_board
from tests.notifiers.board.test_browser import click, waiting
from tests.notifiers.conftest import event

pytestmark = [pytest.mark.integration, pytest.mark.hostile]

T = TypeVar("T")
SCRIPT = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


class ServedBoard:
    """The board on a free port, its event loop (and its SQLite store) in a thread of its own."""

    def __init__(self, tmp_path: Path, directory: Directory, routing: Routing) -> None:
        self.port, self._loop = free_port(), asyncio.new_event_loop()
        self.url = f"http://127.0.0.1:{self.port}"
        self._board: Board | None = None
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._board = make_board(tmp_path, directory, routing)
            runner = self._loop.run_until_complete(start_board(self._board, "127.0.0.1", self.port))
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(runner.cleanup())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def call(self, action: Callable[[Board], T]) -> T:
        """``action(board)`` on the board's own thread."""
        assert self._board is not None
        board = self._board

        async def run() -> T:
            return action(board)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def take(self, *alerts: AlertEvent) -> None:
        self.call(lambda board: board.live.saw_transitions(board.notifier.take(alerts)))

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def served(tmp_path: Path, directory: Directory, routing: Routing) -> Iterator[ServedBoard]:
    made = ServedBoard(tmp_path, directory, routing)
    yield made
    made.stop()


def forged_alert() -> AlertEvent:
    alert = event("ammonia.slip.1h", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=6, threshold=5)
    return alert.model_copy(update={"station_name": SCRIPT, "district": SCRIPT})


def test_a_forged_alert_s_text_is_shown_and_never_run(served: ServedBoard, browser: WebDriver) -> None:
    """station_name once went into innerHTML as it came: a forged event ran script on the board."""
    served.take(forged_alert())
    browser.get(f"{served.url}/board")
    row = waiting(browser, 15, "the forged alert's row")(
        lambda d: (rows := d.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")) and rows[0]
    )
    assert "<img src=x" in row.text, "the markup is shown as text"
    assert row.find_elements(By.TAG_NAME, "img") == [] and row.find_elements(By.TAG_NAME, "script") == []
    assert browser.title != "pwned"
    click(browser, "#alerts tbody tr button.silence", "the silence button")
    waiting(browser, 5, "the sign-in dialog")(lambda d: d.find_element(By.ID, "signin-dialog").is_displayed())
    assert browser.title != "pwned"


def test_the_page_forbids_framing_sniffing_and_other_origins_scripts(served: ServedBoard) -> None:
    for path in ("/board", "/board/static/board.js", "/api/snapshot"):
        with urllib.request.urlopen(served.url + path, timeout=5) as reply:
            headers = reply.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        policy = headers["Content-Security-Policy"] or ""
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ):
            assert directive in policy, (path, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_an_acknowledgement_asks_before_it_is_made(served: ServedBoard, browser: WebDriver) -> None:
    """One click once acknowledged: a framed page could make a signed-in user acknowledge."""
    served.take(event("air.pm25.24h", "ZZ-AIR-JS01", value=118, threshold=75))  # 金水区, the user's
    browser.get(f"{served.url}/board")
    browser.execute_script(f"localStorage.setItem('envalert.token', '{TOKEN}')")
    browser.get(f"{served.url}/board")
    waiting(browser, 10, "signed in")(lambda d: d.find_element(By.ID, "user").text == "值班员张工")
    click(browser, "#alerts tbody tr button.ack", "the acknowledge button")
    waiting(browser, 5, "the acknowledge dialog")(
        lambda d: d.find_element(By.ID, "ack-dialog").is_displayed()
    )
    assert served.call(lambda board: board.notifier.store.acks()) == [], (
        "nothing written before it is confirmed"
    )
    browser.find_element(By.ID, "ack-comment").send_keys("已通知厂方")
    browser.find_element(By.ID, "ack-ok").click()
    acks = waiting(browser, 10, "the acknowledgement")(
        lambda _: served.call(lambda b: b.notifier.store.acks())
    )
    assert [(a.by, a.comment) for a in acks] == [("值班员张工", "已通知厂方")]


def test_ending_a_silence_asks_before_it_is_made(served: ServedBoard, browser: WebDriver) -> None:
    """One click once ended a silence."""
    now = served.call(lambda board: board.now())
    silence = Silence(
        id="s1", matchers={"district": "金水区"}, starts_at=now, ends_at=now + timedelta(hours=2),
        created_by="值班员张工", comment="站房检修",
    )  # fmt: skip
    served.call(lambda board: board.notifier.store.add_silence(silence, by="值班员张工", at=now))
    browser.get(f"{served.url}/board")
    browser.execute_script(f"localStorage.setItem('envalert.token', '{TOKEN}')")
    browser.get(f"{served.url}/board")
    waiting(browser, 10, "signed in")(lambda d: d.find_element(By.ID, "user").text == "值班员张工")
    in_force = lambda: served.call(lambda board: board.notifier.store.silences(board.now()))  # noqa: E731
    click(browser, "#silences button.expire", "the end-silence button")
    waiting(browser, 5, "the question")(expected_conditions.alert_is_present()).dismiss()
    assert in_force() == [silence], "nothing written when the question is declined"
    click(browser, "#silences button.expire", "the end-silence button")
    waiting(browser, 5, "the question")(expected_conditions.alert_is_present()).accept()
    waiting(browser, 10, "the silence ended")(lambda _: in_force() == [])
