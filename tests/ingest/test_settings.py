"""Settings that the services behind them would refuse are refused at start, by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.settings import BridgeSettings


def test_a_clock_lead_kafka_would_refuse_is_a_setting_error() -> None:
    """Kafka refuses a record stamped more than an hour ahead of its clock
    (``message.timestamp.after.max.ms``): a reading let through further ahead could never be sent,
    and the bridge would hold it unacknowledged for ever."""
    with pytest.raises(ValidationError, match="max_future_seconds"):
        BridgeSettings(max_future_seconds=3601)
    assert BridgeSettings(max_future_seconds=3600).max_future_seconds == 3600
