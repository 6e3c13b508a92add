"""Who may do what on the broker: an account per station, one for the bridge, one for gateways.

Generated from the station catalogue, so that a station may publish only on its own topic
(``env/v1/{kind}/{id}``) and connect only with its own id as MQTT client id: a stolen or
misconfigured station can neither speak for another nor take over another client's session
(the bridge's above all). The bridge only reads, under its own fixed client id. A gateway (the
HJ 212 gateway, the fleet simulator, replays) publishes for the many stations it fronts, under
any client id. Station passwords are derived from one secret (HMAC-SHA256), so a catalogue of
10,000 stations needs no 10,000 stored passwords, and none is in the repository.

mosquitto enforces all this with its dynamic-security plugin, whose configuration
``dynamic_security`` writes: a plain password file and ACL cannot bind a client id to an account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from envalert.core.contract import topic_for
from envalert.core.stations import Station

ALL_STATIONS = "env/v1/#"
#: PBKDF2-SHA512 rounds of a stored password hash: the passwords are long and random, and the
#: broker hashes once per connection, so thousands of stations reconnecting stay cheap.
HASH_ITERATIONS = 1000


def station_password(secret: str, station_id: str) -> str:
    return hmac.new(secret.encode(), station_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    #: The only MQTT client id the account may connect with; None: any.
    client_id: str | None = None


@dataclass(frozen=True)
class Grant:
    """One account on the broker: its password, client id and the topics it may use."""

    account: Account
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokerAccess:
    grants: dict[str, Grant]

    @property
    def passwords(self) -> dict[str, str]:
        return {name: grant.account.password for name, grant in self.grants.items()}


def broker_access(
    stations: Iterable[Station], secret: str, bridge: Account, gateway: Account | None = None
) -> BrokerAccess:
    """The accounts of the bridge, an optional gateway, and each station (bound to its id)."""
    grants = {bridge.username: Grant(bridge, read=(ALL_STATIONS,))}
    if gateway:
        grants[gateway.username] = Grant(gateway, write=(ALL_STATIONS,))
    for station in stations:
        if station.id in grants:
            raise ValueError(f"station id {station.id!r} is a service account's name; rename the station")
        account = Account(station.id, station_password(secret, station.id), client_id=station.id)
        grants[station.id] = Grant(account, write=(topic_for(station.kind, station.id),))
    return BrokerAccess(grants)


def dynamic_security(access: BrokerAccess) -> dict[str, Any]:
    """mosquitto's dynamic-security configuration (a JSON document) granting exactly ``access``:
    nothing is allowed by default but receiving what one has subscribed to."""
    clients, roles = [], []
    for name, grant in access.grants.items():
        salt = secrets.token_bytes(12)
        digest = hashlib.pbkdf2_hmac("sha512", grant.account.password.encode(), salt, HASH_ITERATIONS)
        client: dict[str, Any] = {
            "username": name,
            "password": base64.b64encode(digest).decode("ascii"),
            "salt": base64.b64encode(salt).decode("ascii"),
            "iterations": HASH_ITERATIONS,
            "roles": [{"rolename": name}],
        }
        if grant.account.client_id is not None:
            client["clientid"] = grant.account.client_id
        clients.append(client)
        acls = [{"acltype": "publishClientSend", "topic": topic, "allow": True} for topic in grant.write]
        for topic in grant.read:
            # The plugin checks a shared subscription with its $share prefix.
            acls += [
                {"acltype": "subscribePattern", "topic": topic, "allow": True},
                {"acltype": "subscribePattern", "topic": f"$share/+/{topic}", "allow": True},
                {"acltype": "publishClientReceive", "topic": topic, "allow": True},
            ]
        roles.append({"rolename": name, "acls": acls})
    default = {
        "publishClientSend": False,
        "publishClientReceive": True,
        "subscribe": False,
        "unsubscribe": True,
    }
    return {"clients": clients, "groups": [], "roles": roles, "defaultACLAccess": default}
