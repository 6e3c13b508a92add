"""Sending one message to one contact through apprise, with a timeout, and saying why it failed.

apprise reports failure in its result and explains it in the log entries it keeps with that
result, so sends to different targets can run at once, each with its own reason. Credentials
never reach our logs or InfluxDB: a target is shown as its scheme and, for mail and webhooks,
its host (``masked``), and a sender's error is scrubbed of every piece of its URL.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

import apprise

#: Webhook schemes whose payload can carry the notice id, so receivers can recognise a resend.
PAYLOAD_FIELD_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls"}
#: The log entries of a failed send that say why it failed.
WARNING_LEVELS = {"WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    seconds: float
    error: str = ""


def usable(url: str) -> bool:
    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None


#: Schemes whose host is a network address, not a secret: their targets keep it.
HOSTED_SCHEMES = {"mailto", "mailtos", "json", "jsons", "xml", "xmls", "form", "forms"}


def masked(url: str) -> str:
    """``url`` fit for a log, the outbox and InfluxDB: its scheme, and its host where that is a
    network address; never a user, password, path or query. Services put tokens anywhere: in
    the path (a webhook's ``/services/T/B/SECRET``), or as the host (an ntfy topic, a bot token).
    The contact's name tells people which target it is."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "?"
    try:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        host, port = "", ""
    shown = f"{host}{port}/" if scheme in HOSTED_SCHEMES and host else ""
    return f"{scheme}://{shown}…"


def scrubbed(text: str, url: str) -> str:
    """``text`` (a sender's error) without any piece of ``url`` that may be secret."""
    parts = urlsplit(url)
    pieces = [parts.password or "", parts.username or "", *parts.path.split("/"), *parts.query.split("&")]
    if parts.scheme.lower() not in HOSTED_SCHEMES:
        pieces.append(parts.hostname or "")
    pieces += [piece.partition("=")[2] for piece in parts.query.split("&")]
    for piece in sorted({p for p in pieces if len(p) >= 4}, key=len, reverse=True):
        text = text.replace(piece, "****").replace(quote(piece, safe=""), "****")
    return text


def with_notice_id(url: str, notice: str) -> str:
    """Webhook URLs get the notice id as a payload field (``envalert_notice``)."""
    if urlsplit(url).scheme not in PAYLOAD_FIELD_SCHEMES:
        return url
    return f"{url}{'&' if '?' in url else '?'}:envalert_notice={quote(notice, safe='')}"


def with_timeouts(url: str, seconds: float) -> str:
    """apprise's own connect and read timeouts, so a slow target is given up by apprise itself."""
    query = urlsplit(url).query
    extra = [f"{name}={seconds:g}" for name in ("cto", "rto") if f"{name}=" not in query]
    return url if not extra else f"{url}{'&' if '?' in url else '?'}{'&'.join(extra)}"


async def send(url: str, title: str, body: str, *, notice: str, timeout: float) -> Outcome:
    # Below WARNING, apprise logs each URL whole, secrets and all.
    logging.getLogger("apprise").setLevel(logging.WARNING)
    started = time.monotonic()
    sender = apprise.Apprise()
    if not sender.add(with_timeouts(with_notice_id(url, notice), timeout)):
        return Outcome(False, 0.0, f"apprise cannot use {masked(url)}")
    # apprise's own timeouts come first; the call's bounds what they do not cover (DNS, TLS, retries).
    result = await sender.async_notify(body=body, title=title, timeout=timeout * 3)
    seconds = time.monotonic() - started
    if result:
        return Outcome(True, seconds)
    warnings = [entry.message for entry in result.logs() if entry.level in WARNING_LEVELS]
    reason = warnings[-1] if warnings else f"no answer within {timeout * 3:g} s"
    return Outcome(False, seconds, scrubbed(reason, url)[:300])


def backoff(attempts: int, first: timedelta, most: timedelta) -> timedelta:
    """Exponential: first, 2×first, 4×first, … at most ``most`` (the exponent is capped so a
    message retried for days does not overflow)."""
    return min(first * (1 << min(max(attempts - 1, 0), 32)), most)
