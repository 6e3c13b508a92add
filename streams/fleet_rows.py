"""The fleet's state as table rows: one for the city, one for each shard of gathered facts.

In one row, the state passed Kafka's 1 MB record limit with the hours of about 4,000 air stations
(a station's hour is some 250 bytes), and was rewritten whole at every batch. Now a batch writes
the shards its facts went to, then the city row.

A batch's rows are not written atomically: a crash can keep some and lose the rest. They go to
one changelog partition, shards first and the city last, and aiokafka keeps one produce request
in flight per broker, so what survives is a prefix: a city row is kept only with its batch's
shards. So a period closed in a batch leaves the shards only
in a later batch, whose rows cannot survive without the city row that closed it; a city row
recovered with later shards still finds every fact of the periods it has not closed.

The parsed state is kept between batches, as timelines are (streams/timelines.py), and used
only while the table still holds the city row it was saved as.
"""

from __future__ import annotations

from collections.abc import Iterable

from faust.types import EventT
from faust.types.tables import TableT

from rules.fleet import CITY, FleetState, Gathered, prune
from streams.handoff import save, write

CITY_KEY = CITY.encode()
SHARD_PREFIX = f"{CITY}/facts/".encode()


def shard_key(shard: int) -> bytes:
    return SHARD_PREFIX + str(shard).encode()


def closed_in(state: FleetState) -> FleetState:
    """Only what ``state`` has closed: enough to prune by."""
    return FleetState(
        closed_hour=state.closed_hour, closed_day=state.closed_day, closed_night=state.closed_night
    )


class FleetRows:
    def __init__(self, table: TableT[bytes, str]) -> None:
        self.table = table
        self.kept: tuple[str, FleetState] | None = None
        #: What the last city row written (or read) had closed: shards are pruned by it alone.
        self.closed = FleetState()

    def take(self) -> FleetState:
        """The fleet's state, to update and then ``save``."""
        row = self.table.get(CITY_KEY)
        kept, self.kept = self.kept, None
        if kept is not None and kept[0] is row:
            return kept[1]
        state = FleetState.model_validate_json(row) if row else FleetState()
        for key, stored in list(self.table.items()):
            if key.startswith(SHARD_PREFIX):
                shard = int(key.removeprefix(SHARD_PREFIX))
                state.shards[shard] = Gathered.model_validate_json(stored)
                prune(state.shards[shard], state)
        self.closed = closed_in(state)
        return state

    def save(self, state: FleetState, changed: Iterable[int], last: EventT[bytes]) -> None:
        """Write the ``changed`` shards, then the city row."""
        for shard in sorted(set(changed)):
            prune(state.shards[shard], self.closed)
            save(self.table, shard_key(shard), state.shards[shard], last)
        row = write(self.table, CITY_KEY, state.model_dump_json(exclude={"shards"}), last)
        self.kept, self.closed = (row, state), closed_in(state)
