"""Who may do what on the broker: an account per station, one for the bridge, one for gateways.

Generated from the station catalogue, so that a station may publish only on its own topic
(``env/v1/{kind}/{id}``): a stolen or misconfigured station cannot speak for another. The
bridge only reads. A gateway (the HJ 212 gateway, the fleet simulator) publishes for the many
stations it fronts. Station passwords are derived from one secret (HMAC-SHA256), so a
catalogue of 10,000 stations needs no 10,000 stored passwords, and none is in the repository.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.contract import topic_for
from ingest.stations import Station

ALL_STATIONS = "env/v1/#"


def station_password(secret: str, station_id: str) -> str:
    return hmac.new(secret.encode(), station_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class BrokerAccess:
    passwords: dict[str, str]
    acl: list[str]


def broker_access(
    stations: Iterable[Station], secret: str, bridge: Account, gateway: Account | None = None
) -> BrokerAccess:
    """Passwords and mosquitto ACL lines for the bridge, an optional gateway, and each station."""
    passwords = {bridge.username: bridge.password}
    acl = ["# generated from the station catalogue by ingest/access.py", f"user {bridge.username}"]
    acl.append(f"topic read {ALL_STATIONS}")
    if gateway:
        passwords[gateway.username] = gateway.password
        acl += [f"user {gateway.username}", f"topic write {ALL_STATIONS}"]
    for station in stations:
        passwords[station.id] = station_password(secret, station.id)
        acl += [f"user {station.id}", f"topic write {topic_for(station.kind, station.id)}"]
    return BrokerAccess(passwords, acl)
