"""Work-arounds for faults of the libraries, in one place: ``apply`` runs them once, as every
``envalert`` command starts, before any client exists.

Each names the fault, the version it was seen in and, where one exists, the upstream report. The
worker's own replacements of Faust behaviour are subclasses that stay with it and say why there:
``streams.consumer.Transport``, ``streams.app.App`` and ``streams.handoff.ConfirmedTable``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiokafka.client import AIOKafkaClient


def apply() -> None:
    track_every_sent_topic()


def track_every_sent_topic() -> None:
    """Make every aiokafka client keep the metadata of each topic it has sent to, as Java's does.

    aiokafka 0.10–0.14 (``AIOKafkaClient._wait_on_metadata``) tracks a topic only if its first
    send finds it missing from the cluster view; no upstream report was found. A topic known from
    the all-topics fetch at start is not tracked, so the first fetch for a new topic forgets it:
    its batches then have no leader and wait for their expiry (Faust: 20 min). The worker's
    changelog writes stopped so for minutes after its first send to ``ticks`` or ``alerts`` when
    they were created after it started (docs/PERFORMANCE.md, "the producer stall")."""
    from aiokafka.client import AIOKafkaClient

    wait_on_metadata = AIOKafkaClient._wait_on_metadata
    if getattr(wait_on_metadata, "tracks_sent_topics", False):
        return

    async def wait_and_track(client: AIOKafkaClient, topic: str) -> Any:
        partitions = await wait_on_metadata(client, topic)
        client.add_topic(topic)  # a no-op once tracked
        return partitions

    wait_and_track.tracks_sent_topics = True  # type: ignore[attr-defined]
    AIOKafkaClient._wait_on_metadata = wait_and_track
