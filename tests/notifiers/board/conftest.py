"""A board over a real store and notifier, on a hand clock, served by aiohttp's test server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from notifiers.board.api import Board, make_app
from notifiers.board.live import Live
from notifiers.board.users import BoardUser, BoardUsers
from notifiers.board.views import PlanTargets
from notifiers.directory import Directory
from notifiers.notifier import Notifier
from notifiers.routing import Routing
from notifiers.store import Store
from rules.catalogue import load_catalogue
from tests.notifiers.conftest import STATIONS, Clock

TOKEN = "duty-token-0123456789"
OTHER_TOKEN = "lead-token-0123456789"


def make_board(tmp_path: Path, directory: Directory, routing: Routing, **options: Any) -> Board:
    clock = Clock()
    notifier = Notifier(
        Store(tmp_path / "notifier.db"), directory, routing, STATIONS, clock, board_url="http://b/"
    )
    users = BoardUsers(
        [
            BoardUser(name="值班员张工", token=TOKEN, units=["金水区"]),
            BoardUser(name="王科长", token=OTHER_TOKEN, units=["市生态环境局"], max_silence="7d"),
        ]
    )
    return Board(
        notifier=notifier,
        live=Live(),
        users=options.pop("users", users),
        targets=PlanTargets.of(load_catalogue()),
        **options,
    )


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Synchronous calls to the board's real HTTP server, for plain pytest tests."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.loop = asyncio.new_event_loop()
        self.client: TestClient[Any, Any] = self.loop.run_until_complete(self._start())

    async def _start(self) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(TestServer(make_app(self.board)))
        await client.start_server()
        return client

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)

        async def go() -> Reply:
            async with self.client.request(method, path, headers=headers, data=data) as reply:
                text = await reply.text()
                parsed = json.loads(text) if "json" in reply.content_type else text
                return Reply(reply.status, parsed, dict(reply.headers))

        return self.loop.run_until_complete(go())

    def get(self, path: str, token: str | None = None) -> Reply:
        return self.call("GET", path, token)

    def status(self, path: str) -> tuple[int, Any]:
        """A GET's status (and its body, when it is a refusal) without reading a stream's body:
        the live feed never ends."""

        async def go() -> tuple[int, Any]:
            async with self.client.request("GET", path) as reply:
                return reply.status, (await reply.json() if reply.status >= 400 else None)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture
def board(tmp_path: Path, directory: Directory, routing: Routing) -> Board:
    return make_board(tmp_path, directory, routing)


@pytest.fixture
def api(board: Board) -> Iterator[Api]:
    made = Api(board)
    yield made
    made.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()
