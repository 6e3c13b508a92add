"""Each station's timeline, parsed once: the objects are kept next to the table rows they were
saved as.

Parsing a timeline from its table row and dumping it back for every batch a station is in took a
quarter of the worker's time. A kept timeline is used only while the table still holds the very
row it was saved as; a row recovered from the changelog (after a rebalance) is parsed afresh.
A timeline is handed out once: if its batch fails before it is saved, the next batch parses the
row again rather than reuse a half-advanced object. Parsed timelines take about six times the
memory of their rows (a day-old air station: 65 KB for a 10 KB row), so at most ``limit`` stations
keep theirs (the first to be saved); beyond a city's network the others pay the parse.
"""

from __future__ import annotations

from faust.types import EventT
from faust.types.tables import TableT

from rules.timeline import Timeline
from streams.handoff import save


class Timelines:
    def __init__(self, table: TableT[bytes, str], limit: int) -> None:
        self.table = table
        self.limit = limit
        self.kept: dict[bytes, tuple[str, Timeline]] = {}

    def take(self, key: bytes) -> Timeline:
        """The station's timeline, to advance and then ``save``."""
        row = self.table.get(key)
        kept = self.kept.pop(key, None)
        if kept is not None and kept[0] is row:
            return kept[1]
        return Timeline.model_validate_json(row) if row else Timeline()

    def save(self, key: bytes, timeline: Timeline, last: EventT[bytes]) -> None:
        row = save(self.table, key, timeline, last)
        if len(self.kept) < self.limit:
            self.kept[key] = (row, timeline)
