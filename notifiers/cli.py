"""``envalert notify``: run the notifier, test a unit's contacts, acknowledge and silence alerts."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import click

from envalert.core.config_files import ConfigError
from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.settings import LOG_FORMAT
from envalert.core.signals import run_until_signalled, wait_until_signalled
from notifiers.lifecycle import wall_clock
from notifiers.settings import NotifierSettings
from notifiers.silences import LABELS, Acknowledgement, Silence
from notifiers.store import Store
from rules.durations import parse_duration


@click.group()
def notify() -> None:
    """Notifications to the responsible units: run, test, acknowledge, silence.

    Units and contacts: notifiers/directory.yaml (ENVALERT_DIRECTORY_FILE); who hears of what and
    how often: notifiers/routing.yaml (ENVALERT_ROUTING_FILE).
    """


@notify.command("run")
@click.option("-l", "--loglevel", default="info", show_default=True)
def run(loglevel: str) -> None:
    """Take alert events from Kafka and deliver notices until SIGINT or SIGTERM."""
    from aiokafka.errors import KafkaError

    from notifiers.service import serve

    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

    settings = NotifierSettings()
    try:
        run_until_signalled(lambda stop: serve(settings, stop))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    except KafkaError as error:
        raise click.ClickException(f"Kafka at {settings.kafka_bootstrap}: {error}") from None


@notify.command("directory")
def directory() -> None:
    """Check the directory and list each unit, its parent and its contacts (secrets masked)."""
    from notifiers.delivery import masked
    from notifiers.service import load_config

    try:
        found, _, _ = load_config(NotifierSettings())
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    for unit in found.units():
        parent = found.parent(unit.name)
        click.secho(f"{unit.id:20} {unit.name}" + (f"  → {parent.name}" if parent else ""), bold=True)
        for contact in unit.contacts or []:
            tags = ",".join(contact.tags)
            click.echo(
                f"{'':22}{contact.name} [{tags}] {contact.variant}/{contact.language} {masked(contact.url)}"
            )


@notify.command("test")
@click.argument("unit")
@click.option("--tag", "tags", multiple=True, help="only contacts with this tag (repeatable)")
def test(unit: str, tags: tuple[str, ...]) -> None:
    """Send a test message to each contact of UNIT (its name or id); exit 1 if any fails."""
    from notifiers.delivery import masked, send
    from notifiers.directory import load_directory

    settings = NotifierSettings()
    try:
        found = load_directory(settings.directory_file).find(unit)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if found is None:
        raise click.ClickException(
            f"no unit {unit!r} in {settings.directory_file}; `envalert notify directory` lists them"
        )
    contacts = [c for c in found.contacts or [] if not tags or set(tags) & set(c.tags)]
    if not contacts:
        raise click.ClickException(f"{found.name} has no contact tagged {', '.join(tags)}")
    now = wall_clock()
    title = f"envalert 测试消息 / test message: {found.name}"
    failed = 0
    for contact in contacts:
        body = (
            f"这是发给{found.name}（{contact.name}）的测试消息，无需处理。\n"
            f"This is a test message to {found.id} ({contact.name}); no action needed.\n"
            f"{now:%Y-%m-%d %H:%M:%S} UTC"
        )
        outcome = asyncio.run(
            send(
                contact.url,
                title,
                body,
                notice=f"test-{found.id}-{now:%Y%m%d%H%M%S}",
                timeout=settings.notify_timeout_seconds,
            )
        )
        status = (
            click.style("delivered", fg="green") if outcome.delivered else click.style("FAILED", fg="red")
        )
        click.echo(
            f"{status} {contact.name} {masked(contact.url)} in {outcome.seconds:.2f} s {outcome.error}"
        )
        failed += not outcome.delivered
    if failed:
        raise click.ClickException(f"{failed} of {len(contacts)} contacts failed")


def _store() -> Store:
    return Store(NotifierSettings().notifier_db)


@notify.command("alerts")
def alerts() -> None:
    """The alerts the notifier tracks now: fingerprint, state, units, acknowledgement."""
    store = _store()
    acks = {(ack.fingerprint, ack.started_at): ack for ack in store.acks()}
    for fingerprint, tracked in sorted(store.state().alerts.items()):
        event = tracked.event
        ack = acks.get((fingerprint, event.started_at))
        acked = f"acknowledged by {ack.by}" if ack else "not acknowledged"
        click.echo(
            f"{fingerprint}  {event.state} {event.severity or ''}  {', '.join(tracked.units)}  {acked}"
        )
        click.echo(f"    {event.message_zh}")


@notify.command("ack")
@click.argument("fingerprint")
@click.option("--by", required=True, help="who takes it on")
@click.option("--comment", default="", help="what is being done")
def ack(fingerprint: str, by: str, comment: str) -> None:
    """Acknowledge an alert's current episode: its repeats and escalation stop."""
    store = _store()
    tracked = store.state().alerts.get(fingerprint)
    if tracked is None or tracked.event.state != "firing":
        raise click.ClickException(f"no firing alert {fingerprint!r}; `envalert notify alerts` lists them")
    store.add_ack(
        Acknowledgement(
            fingerprint=fingerprint,
            started_at=tracked.event.started_at,
            by=by,
            at=wall_clock(),
            comment=comment,
        )
    )
    click.echo(
        f"acknowledged {fingerprint} (episode since {tracked.event.started_at:%Y-%m-%d %H:%M} UTC) by {by}"
    )


@notify.group()
def silence() -> None:
    """Silences: mute alerts matching labels for a while (maintenance, known causes)."""


@silence.command("add")
@click.option(
    "--match",
    "matchers",
    multiple=True,
    required=True,
    metavar="LABEL=PATTERN",
    help=f"repeatable; labels: {', '.join(LABELS)}; patterns may use * and ?",
)
@click.option("--for", "duration", default=None, help="how long, e.g. 2h (or give --until)")
@click.option(
    "--until",
    "until",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    default=None,
    help="end, Beijing time",
)
@click.option("--by", required=True, help="who creates it")
@click.option("--comment", required=True, help="why")
def silence_add(
    matchers: tuple[str, ...], duration: str | None, until: datetime | None, by: str, comment: str
) -> None:
    """Create a silence starting now."""
    pairs = [matcher.partition("=") for matcher in matchers]
    if any(not sep for _, sep, _ in pairs):
        raise click.BadParameter("write each matcher as LABEL=PATTERN, e.g. rule=air.*", param_hint="--match")
    now = wall_clock()
    if (duration is None) == (until is None):
        raise click.UsageError("give exactly one of --for and --until")
    try:
        ends = until.replace(tzinfo=CHINA_STANDARD_TIME) if until else now + parse_duration(duration)
        made = Silence(
            id=uuid.uuid4().hex[:8],
            matchers={label: pattern for label, _, pattern in pairs},
            starts_at=now,
            ends_at=ends,
            created_by=by,
            comment=comment,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _store().add_silence(made, by=by, at=now)
    click.echo(f"silence {made.id} until {made.ends_at:%Y-%m-%d %H:%M} UTC: {made.matchers}")


@silence.command("list")
@click.option("--all", "everything", is_flag=True, help="include expired silences")
def silence_list(everything: bool) -> None:
    """Silences in force (or all of them)."""
    for made in _store().silences(None if everything else wall_clock()):
        click.echo(
            f"{made.id}  {made.starts_at:%m-%d %H:%M} → {made.ends_at:%m-%d %H:%M} UTC  {made.matchers}  "
            f"by {made.created_by}: {made.comment}"
        )


@silence.command("expire")
@click.argument("silence_id")
@click.option("--by", required=True, help="who ends it")
def silence_expire(silence_id: str, by: str) -> None:
    """End a silence now."""
    store = _store()
    found = next((s for s in store.silences() if s.id == silence_id), None)
    if found is None:
        raise click.ClickException(
            f"no silence {silence_id!r}; `envalert notify silence list --all` lists them"
        )
    now = wall_clock()
    store.add_silence(found.ended(now), by=by, at=now, expired=True)
    click.echo(f"silence {silence_id} expired")


@notify.command("sink")
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 in a container")
@click.option("--mail-port", default=2525, show_default=True)
@click.option("--webhook-port", default=2580, show_default=True)
def sink(host: str, mail_port: int, webhook_port: int) -> None:
    """A local mail server and webhook that print every notification they receive, for trials and
    development (the shipped directory's contacts point here by default). Ctrl-C stops it."""
    from notifiers.sinks import Inbox, MailSink, Received, WebhookSink

    def show(item: Received) -> None:
        click.secho(f"{wall_clock():%H:%M:%S} {item.channel} {item.path}: {item.title}", bold=True)
        click.echo("  " + item.body.replace("\n", "\n  "))

    inbox = Inbox(on_receive=show)
    receivers = (MailSink(inbox, mail_port, host), WebhookSink(inbox, webhook_port, host))
    for receiver in receivers:
        receiver.start()
    click.echo(f"mail on {receivers[0].address}, webhook on {receivers[1].address}; Ctrl-C stops")
    try:
        wait_until_signalled()
    finally:
        for receiver in receivers:
            receiver.stop()
