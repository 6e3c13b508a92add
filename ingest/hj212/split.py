"""The parts of split HJ 212-2017 messages (PNUM/PNO), held on a connection until the last comes.

Nothing of a message is published or answered until all its parts have come: a part answered
and then lost with the connection would be a reading acknowledged that was never stored. A
logger sends the parts of one message back to back (they are split only because a packet is
limited in length), so they are held for at most ``within`` seconds, and at most
``MAX_MESSAGES`` messages and ``MAX_BYTES`` of parts at a time on one connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.hj212.packet import Packet

#: Messages whose parts one connection may have in flight at once, and their parts' bytes: a
#: few whole messages, so 2000 connections hold at most about 500 MiB even when all are hostile.
MAX_MESSAGES = 8
MAX_BYTES = 256 * 1024


@dataclass
class Held:
    began: float
    count: int
    parts: dict[int, Packet] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)


class SplitMessages:
    def __init__(self, within: float, clock: Callable[[], float]) -> None:
        self.within = within
        self.clock = clock
        self._held: dict[tuple[str, str | None], Held] = {}

    def add(self, part: Packet, size: int) -> list[Packet] | None:
        """All the parts of ``part``'s message, in order, once the last has come; None until then.
        A part that comes again replaces the one held (a logger's retry)."""
        assert part.pnum is not None and part.pno is not None
        key = (part.mn, part.qn)
        held = self._held.get(key)
        if held is None or held.count != part.pnum:
            held = self._held[key] = Held(self.clock(), part.pnum)
        held.parts[part.pno], held.sizes[part.pno] = part, size
        if len(held.parts) < held.count:
            return None
        del self._held[key]
        return [held.parts[number] for number in sorted(held.parts)]

    def dropped(self) -> list[tuple[str, str | None, int, int]]:
        """Forget the messages whose parts stopped coming ``within`` seconds after their first,
        and the oldest beyond ``MAX_MESSAGES`` or ``MAX_BYTES``: (MN, QN, parts come, parts in
        all) of each."""
        now = self.clock()
        stale, count, size = [], len(self._held), sum(sum(h.sizes.values()) for h in self._held.values())
        for key, held in sorted(self._held.items(), key=lambda item: item[1].began):
            if now - held.began >= self.within or count > MAX_MESSAGES or size > MAX_BYTES:
                stale.append(key)
                count, size = count - 1, size - sum(held.sizes.values())
        gone = [(mn, qn, len(self._held[(mn, qn)].parts), self._held[(mn, qn)].count) for mn, qn in stale]
        for key in stale:
            del self._held[key]
        return gone
