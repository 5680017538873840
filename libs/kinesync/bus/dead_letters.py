"""Dead letters on their way out: the records for ``kinesync.deadletter`` and a log that cannot flood.

A gateway that sends garbage sends it with every frame: 40 a second per station. Each dead letter still
goes to the topic with its reason (nothing is lost), and all of one call leave in one ``send_many``; the
log says the first of each source (topic and key) at once and then one line per source and interval
with how many more came and the last reason, so an operator reads what is wrong without a line per frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kinesync.bus.base import Record
from kinesync.bus.topics import DEADLETTER
from kinesync.models import DeadLetter

REPORT_EVERY_S = 10.0
MAX_SOURCES = 1024  # sources remembered at most; random keys must not grow the log's state without bound


def dead_letter_record(dl: DeadLetter, key: bytes | None = None) -> Record:
    """The ``kinesync.deadletter`` record of ``dl``, keyed by ``key`` (the rejected message's own key, as
    it came) or else by the key or station it names."""
    if key is None:
        name = dl.key or dl.station
        key = name.encode() if name else None
    return (DEADLETTER, key, dl.model_dump_json().encode())


@dataclass
class _Source:
    reported_at: float
    more: int = 0  # dead letters since the last line
    last_reason: str = ""
    last_offset: int | None = None


class DeadLetterLog:
    """Logs dead letters at most once per source and ``every_s``, counting the ones in between."""

    def __init__(self, logger: logging.Logger, *, every_s: float = REPORT_EVERY_S,
                 clock: Callable[[], float] = time.monotonic, max_sources: int = MAX_SOURCES) -> None:
        self.logger = logger
        self.every_s = every_s
        self.clock = clock
        self.max_sources = max_sources
        self._sources: dict[tuple[str, str | None], _Source] = {}

    def note(self, letters: Iterable[DeadLetter]) -> None:
        now = self.clock()
        for dl in letters:
            source = (dl.source_topic, dl.key or dl.station)
            seen = self._sources.get(source)
            # A source's first dead letter, or its first after a quiet interval, is logged whole at once.
            if seen is None or (not seen.more and now - seen.reported_at >= self.every_s):
                if seen is None and len(self._sources) >= self.max_sources:
                    self.report_due(force=True)
                    self._sources.clear()
                self._sources[source] = _Source(reported_at=now)
                self.logger.warning("dead letter from %s[%s]@%s (key %s): %s", dl.source_topic, dl.partition,
                                    dl.offset, source[1], dl.reason)
                continue
            seen.more += 1
            seen.last_reason, seen.last_offset = dl.reason, dl.offset
        self.report_due(now=now)

    def report_due(self, *, now: float | None = None, force: bool = False) -> None:
        """One line for every source with dead letters unreported for ``every_s`` (all of them: ``force``)."""
        now = self.clock() if now is None else now
        for (topic, key), seen in self._sources.items():
            if seen.more and (force or now - seen.reported_at >= self.every_s):
                self.logger.warning("%d more dead letters from %s (key %s) in the last %.0f s; the last at offset "
                                    "%s: %s", seen.more, topic, key, now - seen.reported_at, seen.last_offset,
                                    seen.last_reason)
                seen.more, seen.reported_at = 0, now
