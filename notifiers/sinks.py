"""Local receivers for the demo and the tests: a real SMTP server and a real HTTP webhook.

They keep what they receive (and can pass it to a callback as it arrives), so a demo can show
each notification as it is delivered and a test can count them. The webhook can be told to
answer 503 for a while, to play a target that is down.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    channel: str  # mail | webhook
    path: str  # mail: the recipient; webhook: the URL path
    title: str
    body: str
    notice: str  # the envalert_notice field of a webhook; "" for mail


@dataclass
class Inbox:
    """What the sinks received, in order; safe to read from any thread."""

    on_receive: Callable[[Received], None] | None = None
    items: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Received) -> None:
        with self._lock:
            self.items.append(item)
        if self.on_receive:
            self.on_receive(item)

    def snapshot(self, channel: str | None = None) -> list[Received]:
        with self._lock:
            return [item for item in self.items if channel is None or item.channel == channel]


class _MailHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(mail, EmailMessage)
        part = mail.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        for recipient in envelope.rcpt_tos:
            self.inbox.add(
                Received(
                    "mail", recipient, str(mail["subject"] or ""), body.replace("\r\n", "\n").strip(), ""
                )
            )
        return "250 OK"


class MailSink:
    def __init__(self, inbox: Inbox, port: int, host: str = "127.0.0.1") -> None:
        self._controller = Controller(_MailHandler(inbox), hostname=host, port=port)
        self.address = f"{host}:{port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class WebhookSink:
    """Answers 200 to every POST, or 503 while ``down`` is set."""

    def __init__(self, inbox: Inbox, port: int, host: str = "127.0.0.1") -> None:
        self.down = threading.Event()
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.requests += 1
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if sink.down.is_set():
                    self.send_response(503)
                    self.end_headers()
                    return
                data: dict[str, Any] = json.loads(payload or b"{}")
                inbox.add(
                    Received(
                        "webhook",
                        self.path,
                        str(data.get("title", "")),
                        str(data.get("message", "")),
                        str(data.get("envalert_notice", "")),
                    )
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the inbox is the record."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.address = f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
