"""The local stack's broker accounts, made once and kept in the stack's folder (mode 600).

``envalert stack up`` gives mosquitto the accounts of the station catalogue (ingest/access.py):
the bridge reads under its own client id, the gateway account (simulators, replays, the demo)
publishes for any station, and each station only on its own topic, under its own id as client
id. The demo and ``envalert run`` use these accounts; ``envalert stack accounts`` prints them
for other commands.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from envalert.core.stations import Station
from ingest.access import Account, BrokerAccess, broker_access, station_password

FILE = "mqtt-accounts.json"


def bridge_account(username: str, password: str) -> Account:
    """The bridge connects only under its account's name: no other client can take its session."""
    return Account(username, password, client_id=username)


@dataclass(frozen=True)
class LocalAccounts:
    secret: str
    bridge: Account
    gateway: Account

    def access(self, stations: dict[str, Station]) -> BrokerAccess:
        return broker_access(stations.values(), self.secret, self.bridge, self.gateway)

    def station(self, station_id: str) -> Account:
        return Account(station_id, station_password(self.secret, station_id))

    @property
    def hj212_password(self) -> str:
        """The password of the catalogue's HJ 212 data loggers (its ``${ENVALERT_HJ212_PASSWORD}``)
        on this stack: derived from the stack's secret, so no file needs another field."""
        return station_password(self.secret, "hj212-data-loggers")[:12]


def env_for(account: Account) -> dict[str, str]:
    env = {"ENVALERT_MQTT_USERNAME": account.username, "ENVALERT_MQTT_PASSWORD": account.password}
    if account.client_id:
        env["ENVALERT_MQTT_CLIENT_ID"] = account.client_id
    return env


#: The variable the shipped catalogue's HJ 212 passwords name.
HJ212_PASSWORD = "ENVALERT_HJ212_PASSWORD"


def local_accounts(folder: Path, *, create: bool = True) -> LocalAccounts | None:
    """The folder's accounts; made with fresh random secrets the first time if ``create``."""
    path = folder / FILE
    if path.exists():
        saved = json.loads(path.read_text())
        return LocalAccounts(saved["secret"], bridge_account(**saved["bridge"]), Account(**saved["gateway"]))
    if not create:
        return None
    made = LocalAccounts(
        secrets.token_hex(16),
        bridge_account("envalert-bridge", secrets.token_hex(12)),
        Account("envalert-gateway", secrets.token_hex(12)),
    )
    folder.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        json.dumps(
            {
                "secret": made.secret,
                "bridge": {"username": made.bridge.username, "password": made.bridge.password},
                "gateway": {"username": made.gateway.username, "password": made.gateway.password},
            },
            indent=2,
        )
    )
    return made
