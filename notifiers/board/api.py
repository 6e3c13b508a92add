"""The board's HTTP side (aiohttp): the page, the JSON API, the live feed and /metrics.

Reads are open unless ``board_read_auth`` is set; writes (acknowledge, silence, expire) need a
user's bearer token, and each is recorded in the store's audit log with the user's name. Every
answer is a pydantic model, so ``/api/openapi.json`` is generated from the same classes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import generate_latest
from pydantic import BaseModel, TypeAdapter, ValidationError

from envalert.core.config_files import ConfigError
from envalert.core.guard import Lockout, LogBudget
from notifiers.board import openapi
from notifiers.board.authority import Authority
from notifiers.board.live import Live
from notifiers.board.metrics import Lag, board_registry
from notifiers.board.requests import AckRequest, Me, Problem, SilenceRequest, Ticket
from notifiers.board.users import BoardUser, BoardUsers
from notifiers.board.views import (
    Acknowledged,
    BoardAlert,
    PlanTargets,
    Snapshot,
    city_figures,
    counts,
    firing_alerts,
    station_health,
)
from notifiers.notifier import Notifier
from notifiers.silences import Acknowledgement, Silence
from rules.durations import parse_duration

log = logging.getLogger(__name__)
Body = TypeVar("Body", bound=BaseModel)
STATIC = files("notifiers.board") / "static"
#: The exposition format's type, without the charset aiohttp wants passed on its own.
METRICS_TYPE = "text/plain; version=0.0.4"
#: A comment on the live feed this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0


#: Failed sign-ins from one address within a minute that lock it out for a minute.
SIGN_IN_FAILURES, SIGN_IN_LOCKOUT_SECONDS = 10, 60.0
#: How long a ticket for the live feed is good for, and how many may wait at once.
TICKET_SECONDS, TICKETS_WAITING = 60.0, 1000


@dataclass
class Board:
    notifier: Notifier
    live: Live
    users: BoardUsers
    targets: PlanTargets
    #: Kept current by ``measure_lag`` in the service.
    lag: Lag = field(default_factory=Lag)
    read_auth: bool = False
    #: Pages that may follow the live feed at once; each holds a connection and a queue.
    max_live_pages: int = 200

    def __post_init__(self) -> None:
        self.registry = board_registry(self.notifier, self.live, self.lag, self.notifier.clock)
        self.authority = Authority(self.notifier.directory, self.notifier.stations)
        self.sign_ins = Lockout(SIGN_IN_FAILURES, SIGN_IN_LOCKOUT_SECONDS)
        self.log_budget = LogBudget(rate=1.0, burst=10)
        #: Single-use tickets for the live feed (an EventSource cannot send a header, and a
        #: token in an address ends up in proxies' logs): ticket → when it expires.
        self.tickets: dict[str, float] = {}

    def now(self) -> datetime:
        return self.notifier.clock()

    def alerts(self) -> list[BoardAlert]:
        return firing_alerts(self.notifier.state.alerts, self.notifier.store, self.now())

    def snapshot(self) -> Snapshot:
        now = self.now()
        alerts = self.alerts()
        return Snapshot(
            generated_at=now,
            counts=counts(alerts),
            alerts=alerts,
            stations=station_health(self.notifier.stations, alerts, self.live),
            city=city_figures(self.live, self.targets),
            silences=self.notifier.store.silences(now),
            feed=list(self.live.feed),
            units={unit.id: unit.name for unit in self.notifier.directory.units()},
        )


def refuse(status: type[web.HTTPException], error: str, where: str | None = None) -> web.HTTPException:
    body = Problem(error=error, field=where).model_dump_json()
    headers = {"WWW-Authenticate": 'Bearer realm="envalert"'} if status is web.HTTPUnauthorized else None
    return status(text=body, content_type="application/json", headers=headers)


def answer(model: BaseModel | list[Any], status: int = 200) -> web.Response:
    body = (
        model.model_dump_json()
        if isinstance(model, BaseModel)
        else TypeAdapter(list[Any]).dump_json(model).decode()
    )
    return web.Response(text=body, status=status, content_type="application/json")


async def parsed(request: web.Request, model: type[Body]) -> Body:
    """The request's JSON body as ``model``, or a 400 naming the first wrong field."""
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as error:
        raise invalid(error) from None


def invalid(error: ValidationError) -> web.HTTPException:
    """A 400 naming the first wrong field and what is wrong with it."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return refuse(web.HTTPBadRequest, f"{first['msg']}{more}", where)


def signed_in(board: Board, request: web.Request) -> BoardUser | None:
    """The user whose token the request carries; None without a token. A wrong token counts
    against the address: after ``SIGN_IN_FAILURES`` in a minute it is refused (429) for a minute."""
    address = request.remote or "unknown"
    if left := board.sign_ins.remaining(address):
        raise refuse(web.HTTPTooManyRequests, f"too many failed sign-ins from {address}; wait {left:.0f} s")
    authorization = request.headers.get("Authorization")
    if not authorization:
        return None
    user = board.users.user(authorization)
    if user is None:
        locked = board.sign_ins.failed(address)
        if board.log_budget.allow():
            log.warning(
                "failed sign-in to the board from %s (%s %s)%s",
                address, request.method, request.path, "; locked out for a minute" if locked else "",
            )  # fmt: skip
        raise refuse(web.HTTPUnauthorized, "not a user's token: Bearer <token>")
    board.sign_ins.succeeded(address)
    return user


def writer(board: Board, request: web.Request) -> BoardUser:
    """The user this write comes from, or the refusal to send."""
    if not len(board.users):
        raise refuse(
            web.HTTPForbidden,
            "this board is read-only: no users are configured (ENVALERT_BOARD_USERS_FILE)",
        )
    user = signed_in(board, request)
    if user is None:
        raise refuse(web.HTTPUnauthorized, "acknowledging and silencing need a user's token: Bearer <token>")
    return user


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def reads_need_a_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``board_read_auth``, every API read and /metrics needs a token too; the live feed
    takes a single-use ticket instead (``POST /api/events/ticket``), since a browser cannot set
    a header on an EventSource and a token in an address would end up in proxies' logs."""
    board = request.app[BOARD]
    guarded = request.path.startswith("/api/") or request.path == "/metrics"
    if board.read_auth and guarded and request.method == "GET" and request.path != "/api/openapi.json":
        ticket = request.query.get("ticket", "") if request.path == "/api/events" else ""
        if not use_ticket(board, ticket) and signed_in(board, request) is None:
            raise refuse(web.HTTPUnauthorized, "this board asks for a token on reads too: Bearer <token>")
    return await handler(request)


def use_ticket(board: Board, ticket: str) -> bool:
    """True once for a ticket handed out within ``TICKET_SECONDS``."""
    now = time.monotonic()
    for stale in [t for t, until in board.tickets.items() if until < now]:
        del board.tickets[stale]
    return bool(ticket) and board.tickets.pop(ticket, 0.0) >= now


async def next_message(queue: asyncio.Queue[str]) -> str:
    """The next event for a page, a keepalive comment after a quiet while, or "" at the end."""
    try:
        return await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
    except TimeoutError:
        return ": keepalive\n\n"


class Handlers:
    """One method per route; ``make_app`` says which."""

    def __init__(self, board: Board) -> None:
        self.board = board

    async def root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/board")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=(STATIC / "index.html").read_text(encoding="utf-8"), content_type="text/html"
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        types = {".js": "application/javascript", ".css": "text/css"}
        kind = next((t for ext, t in types.items() if name.endswith(ext)), None)
        resource = STATIC / name
        if kind is None or "/" in name or not resource.is_file():
            raise web.HTTPNotFound()
        return web.Response(text=resource.read_text(encoding="utf-8"), content_type=kind)

    async def snapshot(self, request: web.Request) -> web.StreamResponse:
        return answer(self.board.snapshot())

    async def alerts(self, request: web.Request) -> web.StreamResponse:
        shown = self.board.alerts()
        for name in ("district", "kind", "severity", "rule"):
            wanted = request.query.get(name)
            if wanted:
                shown = [a for a in shown if str(getattr(a, name) or "") == wanted]
        if unit := request.query.get("unit"):  # a unit's name or id, as the messages link it
            found = self.board.notifier.directory.find(unit)
            shown = [a for a in shown if found and found.name in a.units]
        return answer(shown)

    async def stations(self, request: web.Request) -> web.StreamResponse:
        board = self.board
        return answer(station_health(board.notifier.stations, board.alerts(), board.live))

    async def city(self, request: web.Request) -> web.StreamResponse:
        return answer(city_figures(self.board.live, self.board.targets))

    async def feed(self, request: web.Request) -> web.StreamResponse:
        return answer(list(self.board.live.feed))

    async def silences(self, request: web.Request) -> web.StreamResponse:
        everything = request.query.get("all") in {"1", "true"}
        return answer(self.board.notifier.store.silences(None if everything else self.board.now()))

    async def audit(self, request: web.Request) -> web.StreamResponse:
        return answer(self.board.notifier.store.audit())

    async def me(self, request: web.Request) -> web.StreamResponse:
        try:
            user = signed_in(self.board, request)
        except web.HTTPUnauthorized:
            user = None
        name = user.name if user else None
        return answer(Me(name=name, can_write=name is not None, read_auth=self.board.read_auth))

    async def ticket(self, request: web.Request) -> web.StreamResponse:
        if signed_in(self.board, request) is None:
            raise refuse(
                web.HTTPUnauthorized, "a ticket for the live feed needs a user's token: Bearer <token>"
            )
        if len(self.board.tickets) >= TICKETS_WAITING:
            use_ticket(self.board, "")  # forget the expired ones
        if len(self.board.tickets) >= TICKETS_WAITING:
            raise refuse(web.HTTPServiceUnavailable, "too many tickets waiting; try again in a minute")
        made = secrets.token_urlsafe(32)
        self.board.tickets[made] = time.monotonic() + TICKET_SECONDS
        return answer(Ticket(ticket=made, expires_in=TICKET_SECONDS))

    async def acknowledge(self, request: web.Request) -> web.StreamResponse:
        user = writer(self.board, request)
        by = user.name
        body = await parsed(request, AckRequest)
        fingerprint = request.match_info["fingerprint"]
        tracked = self.board.notifier.state.alerts.get(fingerprint)
        if tracked is None or tracked.event.state != "firing":
            raise refuse(web.HTTPNotFound, f"no firing alert {fingerprint!r}", "fingerprint")
        told = [*tracked.units, *tracked.escalated]
        if (why := self.board.authority.may_acknowledge(user, told)) is not None:
            raise refuse(web.HTTPForbidden, why, "fingerprint")
        ack = Acknowledgement(
            fingerprint=fingerprint,
            started_at=tracked.event.started_at,
            by=by,
            at=self.board.now(),
            comment=body.comment,
        )
        self.board.notifier.store.add_ack(ack)
        self.board.live.announce("ack", {"fingerprint": fingerprint, "by": by})
        return answer(Acknowledged(by=ack.by, at=ack.at, comment=ack.comment))

    async def silence(self, request: web.Request) -> web.StreamResponse:
        user = writer(self.board, request)
        by = user.name
        body = await parsed(request, SilenceRequest)
        now = self.board.now()
        if (body.duration is None) == (body.ends_at is None):
            raise refuse(web.HTTPBadRequest, "give exactly one of duration and ends_at", "duration")
        field = "duration" if body.duration else "ends_at"
        try:
            ends = body.ends_at or now + parse_duration(body.duration or "")
        except (ValueError, OverflowError) as error:  # a duration that does not parse, or no date
            raise refuse(web.HTTPBadRequest, str(error), field) from None
        if (why := self.board.authority.too_long(user, ends - now)) is not None:
            raise refuse(web.HTTPBadRequest, why, field)
        try:
            made = Silence(
                id=uuid.uuid4().hex[:8],
                matchers=body.matchers,
                starts_at=now,
                ends_at=ends,
                created_by=by,
                comment=body.comment,
            )
        except ValidationError as error:  # Silence's own checks: known labels, ends after it starts
            raise invalid(error) from None
        if (why := self.board.authority.may_silence(user, made.matchers)) is not None:
            raise refuse(web.HTTPForbidden, why, "matchers")
        self.board.notifier.store.add_silence(made, by=by, at=now)
        self.board.live.announce("silence", {"id": made.id, "by": by})
        return answer(made, status=201)

    async def expire(self, request: web.Request) -> web.StreamResponse:
        user = writer(self.board, request)
        by = user.name
        silence_id = request.match_info["silence_id"]
        store = self.board.notifier.store
        found = next((s for s in store.silences() if s.id == silence_id), None)
        if found is None:
            raise refuse(web.HTTPNotFound, f"no silence {silence_id!r}", "silence_id")
        if (why := self.board.authority.may_silence(user, found.matchers)) is not None:
            raise refuse(web.HTTPForbidden, why, "silence_id")
        now = self.board.now()
        ended = found.ended(now)
        store.add_silence(ended, by=by, at=now, expired=True)
        self.board.live.announce("silence", {"id": silence_id, "by": by, "expired": True})
        return answer(ended)

    async def events(self, request: web.Request) -> web.StreamResponse:
        if self.board.live.pages() >= self.board.max_live_pages:
            raise refuse(
                web.HTTPServiceUnavailable,
                f"{self.board.max_live_pages} live pages are open already, the most this board serves",
            )
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        queue = self.board.live.subscribe()  # counted from now on: the cap holds however fast pages come
        try:
            await stream.prepare(request)
            await stream.write(b"event: hello\ndata: {}\n\n")
            while message := await next_message(queue):
                await stream.write(message.encode())
        except ConnectionResetError:
            log.debug("a page closed its live feed")
        finally:
            self.board.live.unsubscribe(queue)
        return stream

    async def spec(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(openapi.document())

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=generate_latest(self.board.registry).decode(), content_type=METRICS_TYPE)


ROUTES = [
    ("GET", "/", "root"),
    ("GET", "/board", "page"),
    ("GET", "/board/", "page"),
    ("GET", "/board/alerts/{fingerprint:.+}", "page"),
    ("GET", "/board/static/{name}", "static"),
    ("GET", "/api/snapshot", "snapshot"),
    ("GET", "/api/alerts", "alerts"),
    ("GET", "/api/stations", "stations"),
    ("GET", "/api/city", "city"),
    ("GET", "/api/feed", "feed"),
    ("GET", "/api/silences", "silences"),
    ("GET", "/api/audit", "audit"),
    ("GET", "/api/me", "me"),
    ("POST", "/api/alerts/{fingerprint:.+}/ack", "acknowledge"),
    ("POST", "/api/silences", "silence"),
    ("DELETE", "/api/silences/{silence_id}", "expire"),
    ("GET", "/api/events", "events"),
    ("POST", "/api/events/ticket", "ticket"),
    ("GET", "/api/openapi.json", "spec"),
    ("GET", "/metrics", "metrics"),
]


BOARD = web.AppKey("board", Board)


#: Sent with every answer: the page runs only its own script, may not be framed (a framed page
#: could make a signed-in user click), and no browser guesses a type or leaks a URL.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def add_security_headers(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def make_app(board: Board) -> web.Application:
    app = web.Application(middlewares=[reads_need_a_token])
    app.on_response_prepare.append(add_security_headers)
    app[BOARD] = board
    handlers = Handlers(board)
    for method, path, name in ROUTES:
        app.router.add_route(method, path, getattr(handlers, name))

    async def close_feeds(_: web.Application) -> None:
        board.live.close()

    app.on_shutdown.append(close_feeds)
    return app


async def start_board(board: Board, bind: str, port: int) -> web.AppRunner:
    """Listen on ``bind:port``; the caller cleans the runner up when it stops."""
    runner = web.AppRunner(make_app(board), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, bind, port).start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(
            f"cannot serve the board on {bind}:{port}: {error.strerror}; "
            "fix: stop what uses the port, or set ENVALERT_BOARD_PORT to a free one"
        ) from None
    return runner
