"""Dead letters: every one a record, the log a line per source and interval (``kinesync.bus.dead_letters``)."""

from __future__ import annotations

import json
import logging

import pytest

from kinesync.bus.dead_letters import DeadLetterLog, dead_letter_record
from kinesync.bus.topics import DEADLETTER
from kinesync.models import DeadLetter


def _dl(key: str | None, offset: int, reason: str = "wrong magic", topic: str = "kinesync.emg.raw") -> DeadLetter:
    return DeadLetter(source_topic=topic, partition=0, offset=offset, key=key, reason=reason, payload_hex="00",
                      size=1, received_at_ns=0)


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_a_flood_from_one_source_logs_one_line_then_a_count_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    dlog = DeadLetterLog(logging.getLogger("test.dead"), every_s=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.dead"):
        for i in range(40):  # a second of a broken gateway's frames
            dlog.note([_dl("station-01", i)])
            clock.t += 0.025
        assert len(_lines(caplog)) == 1
        assert "station-01" in _lines(caplog)[0] and "wrong magic" in _lines(caplog)[0]
        clock.t += 10.0
        dlog.note([_dl("station-01", 40, reason="truncated header")])
    lines = _lines(caplog)
    assert len(lines) == 2
    # the 39 after the first, and the one now: 40 more, with the last reason and offset
    assert lines[1].startswith("40 more dead letters from kinesync.emg.raw (key station-01)")
    assert "offset 40" in lines[1] and "truncated header" in lines[1]


def test_each_source_is_named_and_a_pending_count_is_reported_when_due(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    dlog = DeadLetterLog(logging.getLogger("test.dead"), every_s=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.dead"):
        dlog.note([_dl("a", 1), _dl("b", 1), _dl("a", 2), _dl(None, 7, topic="kinesync.force.raw")])
        assert len(_lines(caplog)) == 3  # a, b and the keyless source, once each
        dlog.report_due()
        assert len(_lines(caplog)) == 3  # a's second is not due yet
        clock.t += 10.0
        dlog.report_due()  # the runner calls this after every batch, so a burst then silence is still told
    lines = _lines(caplog)
    assert len(lines) == 4 and lines[3].startswith("1 more dead letters from kinesync.emg.raw (key a)")


def test_a_source_quiet_for_an_interval_is_logged_whole_again(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    dlog = DeadLetterLog(logging.getLogger("test.dead"), every_s=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.dead"):
        dlog.note([_dl("a", 1)])
        clock.t += 60.0
        dlog.note([_dl("a", 2, reason="unknown flag bits 0x80")])
    lines = _lines(caplog)
    assert len(lines) == 2 and "more" not in lines[1] and "unknown flag bits" in lines[1]


def test_random_keys_do_not_grow_the_state_without_bound(caplog: pytest.LogCaptureFixture) -> None:
    dlog = DeadLetterLog(logging.getLogger("test.dead"), clock=_Clock(), max_sources=8)
    with caplog.at_level(logging.WARNING, logger="test.dead"):
        dlog.note([_dl("a", 1), _dl("a", 2)])
        dlog.note([_dl(f"k{i}", i) for i in range(20)])
    assert len(dlog._sources) <= 8
    # a's pending count was told before its source was forgotten
    assert any(line.startswith("1 more dead letters from kinesync.emg.raw (key a)") for line in _lines(caplog))


def test_the_record_keeps_the_rejected_message_key_or_names_the_source() -> None:
    dl = _dl("station-01", 3)
    topic, key, value = dead_letter_record(dl, b"\xffraw")
    assert topic == DEADLETTER and key == b"\xffraw"  # the key as it came, even when it is not UTF-8
    assert DeadLetter.model_validate(json.loads(value)) == dl
    assert dead_letter_record(dl)[1] == b"station-01"
    fault = DeadLetter(source_topic="analysis", reason="ValueError", payload_hex="", size=0, received_at_ns=0,
                       station="station-02")
    assert dead_letter_record(fault)[1] == b"station-02"
    assert dead_letter_record(_dl(None, 1))[1] is None
