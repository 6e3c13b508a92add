"""Sending one message to one contact through apprise, with a timeout, and saying why it failed.

apprise reports failure in its result and explains it in the log entries it keeps with that
result, so sends to different targets can run at once, each with its own reason. Credentials
never reach our logs or InfluxDB: targets are shown as apprise's privacy URL, without the query
string.
"""

from __future__ import annotations

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


def masked(url: str) -> str:
    """``url`` fit for a log: passwords and tokens starred out, the query dropped."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        return f"{urlsplit(url).scheme}://…"
    return str(plugin.url(privacy=True)).split("?", 1)[0]


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
    return Outcome(False, seconds, reason[:300])


def backoff(attempts: int, first: timedelta, most: timedelta) -> timedelta:
    """Exponential: first, 2×first, 4×first, … at most ``most`` (the exponent is capped so a
    message retried for days does not overflow)."""
    return min(first * (1 << min(max(attempts - 1, 0), 32)), most)
