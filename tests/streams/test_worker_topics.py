"""The worker's topics exist before Faust joins its group, its tables' changelogs among them.

A changelog that Faust creates while it starts can be missing from the metadata its consumer
joins the group with: the table's changelog partitions are then not assigned, and every write
to the table fails Faust's partition check ("has 0 partitions") until the next metadata refresh,
minutes later, each failure crashing the agent that wrote."""

from __future__ import annotations

import asyncio
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from click.testing import CliRunner

from envalert.command import cli
from streams.app import App
from tests.conftest import Services

pytestmark = pytest.mark.integration


async def topics_as_found(bootstrap: str) -> dict[str, tuple[int, str | None]]:
    """Each topic's number of partitions and cleanup policy, as a newly started client sees them."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        cluster = await client.fetch_all_metadata()
        names = sorted(cluster.topics())
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        policies = {
            name: dict((key, value) for key, value, *_ in entries).get("cleanup.policy")
            for response in described
            for _, _, _, name, entries in response.resources
        }
        return {name: (len(cluster.partitions_for_topic(name) or ()), policies.get(name)) for name in names}
    finally:
        await admin.close()
        await client.close()


def test_every_table_changelog_is_there_compacted_before_faust_starts(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: dict[str, tuple[int, str | None]] = {}
    built: list[App] = []

    def instead_of_faust(app: App) -> None:
        """What Faust's consumer would find as it joins the group."""
        built.append(app)
        found.update(asyncio.run(topics_as_found(services.kafka_bootstrap)))

    monkeypatch.setenv("ENVALERT_KAFKA_BOOTSTRAP", services.kafka_bootstrap)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(cli, "tune_for_latency", lambda: None)
    monkeypatch.setattr(App, "main", instead_of_faust)

    result = CliRunner().invoke(cli.main, ["worker"])

    assert result.exit_code == 0, result.output
    [app] = built
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert changelogs == {"envalert-timelines-changelog", "envalert-fleet-changelog"}
    expected = (app.conf.topic_partitions, "compact")
    assert {name: found.get(name) for name in changelogs} == dict.fromkeys(changelogs, expected)
