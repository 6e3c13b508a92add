"""The demo's board: a user to sign in with, and what the board showed once the demo was done."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import click
from prometheus_client.parser import text_string_to_metric_families

USERS_FILE = "board-users.yaml"
TOKEN_FILE = "board-token"


def demo_board_users(folder: Path) -> tuple[dict[str, str], Path]:
    """A duty officer who may acknowledge and silence, with a random token kept in a mode-600
    file (made once); returns the notifier's environment for it and the token file."""
    folder.mkdir(parents=True, exist_ok=True)
    token = folder / TOKEN_FILE
    if not token.exists():
        token.touch(mode=0o600)
        token.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    users = folder / USERS_FILE
    users.write_text(
        "# The demo's board user; its token is in board-token.\n"
        f"users:\n  - name: 演示值班员\n    token: ${{file:{TOKEN_FILE}}}\n"
        "    units: [市生态环境局]   # the whole city\n    max_silence: 1d\n",
        encoding="utf-8",
    )
    return {"ENVALERT_BOARD_USERS_FILE": str(users)}, token


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


def metric_samples(url: str) -> dict[str, float]:
    """Each sample of a Prometheus page as ``name{label=value,…}`` → value."""
    found = {}
    for family in text_string_to_metric_families(_get(url)):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def show_board(base: str) -> None:
    """What the board at ``base`` shows now: the city figures, the alerts, the stations, /metrics."""
    try:
        snapshot: dict[str, Any] = json.loads(_get(f"{base}/api/snapshot"))
        metrics = metric_samples(f"{base}/metrics")
    except OSError as error:
        click.secho(f"\nthe board at {base} could not be read: {error}", fg="red")
        return
    city, counts = snapshot["city"], snapshot["counts"]
    click.secho(f"\nThe board ({base}/board) shows:", bold=True)
    if city["aqi"] is not None:
        click.echo(f"  城市AQI {city['aqi']}（{city['category_zh']}，首要污染物 {city['primary'] or '—'}）")
    if city["heavy_budget_used_pct"] is not None:
        click.echo(
            f"  重污染天数 {city['heavy_days']} / {city['days']} 天，已用 1.4% 额度的 "
            f"{city['heavy_budget_used_pct']:.0f}%"
        )
    if city["night_compliance_pct"] is not None:
        click.echo(
            f"  夜间达标率 {city['night_compliance_pct']:.1f}%"
            f"（目标 ≥ {city['night_compliance_target_pct']:.0f}%，"
            f"最近 {city['night_compliance_nights']} 夜）"
        )
    click.echo(
        f"  firing alerts: {counts['firing']} ({counts['critical']} critical, {counts['warning']} warning, "
        f"{counts['acknowledged']} acknowledged, {counts['silenced']} silenced)"
    )
    for alert in snapshot["alerts"][:5]:
        click.echo(f"    {alert['message_zh']}")
    health = Counter(station["status"] for station in snapshot["stations"])
    click.echo("  stations: " + ", ".join(f"{status} {n}" for status, n in sorted(health.items())))

    def total(prefix: str) -> float:
        return sum(value for name, value in metrics.items() if name.startswith(prefix))

    click.echo(
        f"  /metrics: readings {total('envalert_readings_total'):.0f}, "
        f"rejected {total('envalert_readings_rejected_total'):.0f}, "
        f"notification attempts {total('envalert_notification_attempts_total'):.0f} "
        f"({total('envalert_notification_failures_total'):.0f} failed), "
        f"worker lag {total('envalert_consumer_lag{group=envalert,'):.0f} records"
    )
