"""Writing line protocol to InfluxDB over the v2 API (influxdb-client) or the v1 ``/write`` API.

Both writers sort failures into two kinds: the server is away or misconfigured
(``InfluxUnavailableError``: wait and retry, nothing is lost), or it refused the data itself
(``InfluxRefusedError``: retrying cannot help, the caller isolates the bad points).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException

from envalert.core.contract import EPOCH, Flag, Reading
from envalert.core.settings import InfluxSettings
from envalert.core.stations import Station

#: Statuses that mean the data itself is wrong (bad line, field type conflict, too large).
REFUSED_STATUSES = {400, 413, 422}


class InfluxUnavailableError(Exception):
    """InfluxDB cannot take writes now: down, overloaded, or not set up as configured."""


class InfluxRefusedError(Exception):
    """InfluxDB refused the points themselves."""


#: Line protocol's escapes (as influxdb-client's Point writes them): in keys and tag values, and
#: inside string field values.
KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})


def reading_line(reading: Reading, station: Station | None) -> str:
    """One reading as one line: measurement = kind, tags = the station and its catalogue tags,
    fields = metrics and their flags, time in nanoseconds. Written here rather than through
    influxdb-client's ``Point``, at a fraction of its cost, and byte for byte what it writes."""
    tags = (("station", reading.station), *(station.tags() if station else {}).items())
    fields: list[tuple[str, str]] = []  # (name, "key=value"), sorted by name as Point sorts them
    for metric, value in reading.values.items():
        key, flag_key = _field_keys(metric)
        flag = FLAG_FIELDS[reading.flag(metric)]
        fields += [(metric, f"{key}={_float(value)}"), (f"{metric}_flag", f"{flag_key}={flag}")]
    fields.sort()
    nanoseconds = (reading.ts - EPOCH) // MICROSECOND * 1000
    return f"{_series(reading.kind.value, tags)} {','.join(field for _, field in fields)} {nanoseconds}"


MICROSECOND = timedelta(microseconds=1)
#: Each flag as a string field's value.
FLAG_FIELDS = {flag: f'"{flag.value.translate(STRING_ESCAPES)}"' for flag in Flag}


#: Bounded: a forged record on ``readings`` may name any station or metric.
@lru_cache(maxsize=200_000)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The measurement and its tags, sorted, each escaped; a tag with no name or value is left out."""
    escaped = ((_key(key), _tag_value(value)) for key, value in sorted(tags))
    return measurement + "".join(f",{key}={value}" for key, value in escaped if key and value)


@lru_cache(maxsize=4096)
def _field_keys(metric: str) -> tuple[str, str]:
    return _key(metric), _key(f"{metric}_flag")


def _key(text: str) -> str:
    return text.translate(KEY_ESCAPES)


def _tag_value(text: str) -> str:
    escaped = _key(text)
    return f"{escaped} " if escaped.endswith("\\") else escaped


def _float(value: float) -> str:
    """As Python writes a float, less a whole number's ``.0``."""
    return str(float(value)).removesuffix(".0")


def _classify(status: int, detail: str, where: str) -> Exception:
    if status in REFUSED_STATUSES:
        return InfluxRefusedError(f"{where} refused the points ({status}): {detail}")
    return InfluxUnavailableError(f"{where} answered {status}: {detail}")


class InfluxWriter(Protocol):
    address: str

    async def prepare(self) -> None:
        """Make sure the target database or bucket can be written to."""

    async def write(self, lines: list[str]) -> None: ...

    async def close(self) -> None: ...


class V1Writer:
    """InfluxDB ≤ 1.7: ``POST /write?db=…&precision=ns``, as Telegraf's influxdb output does."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.address = f"{settings.influx_url} (v1, database {settings.influx_database})"
        self._base = settings.influx_url.rstrip("/")
        self._database = settings.influx_database
        auth = None
        if settings.influx_username:
            password = settings.influx_password.get_secret_value() if settings.influx_password else ""
            auth = aiohttp.BasicAuth(settings.influx_username, password)
        self._session = aiohttp.ClientSession(
            auth=auth, timeout=aiohttp.ClientTimeout(total=settings.influx_timeout_seconds)
        )

    async def _post(self, path: str, params: dict[str, str], body: bytes | None = None) -> None:
        try:
            async with self._session.post(self._base + path, params=params, data=body) as response:
                if response.status >= 300:
                    raise _classify(response.status, (await response.text())[:500], self.address)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise InfluxUnavailableError(f"{self.address}: {error!r}") from error

    async def prepare(self) -> None:
        await self._post("/query", {"q": f'CREATE DATABASE "{self._database}"'})

    async def write(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        params = {"db": self._database, "precision": "ns"}
        try:
            await self._post("/write", params, body)
        except InfluxUnavailableError as error:
            if "database not found" not in str(error):
                raise
            # Dropped while we ran, or (influxd 1.6, once) not found just after its CREATE was
            # answered: create it and write again, as Telegraf does.
            await self.prepare()
            await self._post("/write", params, body)

    async def close(self) -> None:
        await self._session.close()


class V2Writer:
    """InfluxDB 2.x, 3.x and 1.8+ through influxdb-client's async write API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.address = f"{settings.influx_url} (v2, bucket {settings.influx_bucket})"
        self._bucket = settings.influx_bucket
        token = settings.influx_token.get_secret_value() if settings.influx_token else ""
        self._client = InfluxDBClientAsync(
            url=settings.influx_url,
            token=token,
            org=settings.influx_org,
            timeout=int(settings.influx_timeout_seconds * 1000),
        )
        self._api = self._client.write_api()

    async def prepare(self) -> None:
        """The bucket is provisioned with the server (docker-compose.yml does it)."""

    async def write(self, lines: list[str]) -> None:
        try:
            await self._api.write(self._bucket, record=lines)  # nanosecond precision by default
        except ApiException as error:
            raise _classify(error.status or 0, str(error)[:500], self.address) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise InfluxUnavailableError(f"{self.address}: {error!r}") from error

    async def close(self) -> None:
        await self._client.close()


def make_writer(settings: InfluxSettings) -> InfluxWriter:
    return V2Writer(settings) if settings.influx_api == "v2" else V1Writer(settings)


def influx_execute(url: str, database: str, statement: str) -> None:
    """Run an InfluxQL statement that changes data (DELETE, DROP): v1 API, POST."""
    body = urllib.parse.urlencode({"db": database, "q": statement}).encode()
    with urllib.request.urlopen(f"{url.rstrip('/')}/query", data=body, timeout=30) as reply:
        for result in json.load(reply)["results"]:
            if "error" in result:
                raise ValueError(f"InfluxDB could not run {statement!r}: {result['error']}")


def influxql(url: str, database: str, query: str) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query (v1 API) as dicts with their measurement; times in epoch ns."""
    params = urllib.parse.urlencode({"db": database, "q": query, "epoch": "ns"})
    with urllib.request.urlopen(f"{url.rstrip('/')}/query?{params}", timeout=10) as reply:
        body = json.load(reply)
    rows = []
    for result in body["results"]:
        if "error" in result:
            raise ValueError(f"InfluxDB could not run {query!r}: {result['error']}")
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row["measurement"] = series["name"]
                rows.append(row)
    return rows
