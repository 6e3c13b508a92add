"""Notices as text people read: Chinese and English, short (SMS, chat) and long (mail, webhook).

The layout lives in Jinja2 templates (notifiers/templates), so a monitoring centre can change it
without touching code; the words and formats an alert is shown with everywhere (severity, units,
numbers, Beijing time) come from rules/events.py, as in the alert's own messages on Kafka.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from notifiers.directory import Contact, Unit
from notifiers.lifecycle import Notice
from rules.events import SEVERITY_ZH, UNIT_ZH, beijing, number


def lasted_zh(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days}天" if days else "",
        f"{hours}小时" if hours else "",
        f"{minutes}分钟" if minutes else "",
    ]
    return "".join(parts) or "不到1分钟"


def lasted_en(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or "under a minute"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("notifiers", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # plain text: mail bodies, SMS, webhook JSON strings
    )
    environment.filters.update(lasted_zh=lasted_zh, lasted_en=lasted_en, number=number, beijing=beijing)
    environment.globals.update(severity_zh=SEVERITY_ZH, unit_zh=UNIT_ZH)
    return environment


def render(notice: Notice, unit: Unit, contact: Contact, board_url: str) -> tuple[str, str]:
    """(title, body) of ``notice`` for ``contact``'s variant and language."""
    languages = ["zh", "en"] if contact.language == "zh+en" else [contact.language]
    titles, bodies = [], []
    for language in languages:
        template = _environment().get_template(f"{contact.variant}.{language}.j2")
        module = template.make_module({"notice": notice, "unit": unit, "board": board_url.rstrip("/")})
        titles.append(str(getattr(module, "title")()).strip())  # noqa: B009 (a template macro)
        bodies.append(str(module).strip())
    separator = " / " if contact.variant == "short" else "\n\n——— English ———\n\n"
    return " | ".join(titles), separator.join(bodies)
