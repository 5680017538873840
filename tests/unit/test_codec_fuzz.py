"""The frame decoder under hostile input: valid frames, then mutated (hypothesis, and atheris if installed).

Random bytes rarely get past the magic and the header checks, so the strategies here start from
valid frames of every shape the format allows and then break them on purpose: truncation, flipped
bytes, patched header fields (version, kind, flags, channel and sample counts, NaN/inf/huge
rates), lying string lengths, extra bytes. Whatever comes out, ``decode`` either returns a frame
that satisfies every invariant of the format (and survives a re-encode) or raises ``FrameError``.

Longer atheris runs: ``.venv/bin/python tests/unit/test_codec_fuzz.py -max_total_time=600``.
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kinesync.bus.base import Message
from kinesync.bus.memory import MemoryBus
from kinesync.codec.frame import (
    MAX_CHANNELS,
    MAX_RATE_HZ,
    MAX_SAMPLES,
    MAX_VALUES,
    MIN_RATE_HZ,
    Frame,
    FrameError,
    SensorKind,
    decode,
    encode,
)
from kinesync.gateway.publisher import Publisher
from kinesync.ingest import TokenStore
from kinesync.ingest.app import Ingest, IngestError
from kinesync.streaming.engine import AnalyzerEngine

HEAD_SIZE = 34
FIELDS = {  # header field → (offset, struct format)
    "version": (2, "<B"), "kind": (3, "<B"), "flags": (4, "<B"), "channels": (5, "<B"),
    "samples": (6, "<I"), "rate": (10, "<d"), "t0": (18, "<q"), "seq": (26, "<Q"), "station_len": (34, "<H"),
}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

names = st.text(st.characters(blacklist_characters=",", blacklist_categories=("Cs",)), min_size=1, max_size=12)
units = st.text(st.characters(blacklist_characters=",", blacklist_categories=("Cs",)), max_size=6)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    n_ch = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    nan_allowed = draw(st.booleans())
    values = st.floats(width=32, allow_nan=nan_allowed, allow_infinity=False)
    samples = draw(arrays(np.float32, (n_ch, n), elements=values))
    unit_list = draw(st.one_of(st.lists(units, min_size=1, max_size=1), st.lists(units, min_size=n_ch, max_size=n_ch)))
    return Frame(
        station=draw(names),
        device=draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
        kind=draw(st.sampled_from(SensorKind)),
        channels=tuple(draw(st.lists(names, min_size=n_ch, max_size=n_ch))),
        units=tuple(unit_list),
        rate_hz=draw(st.floats(MIN_RATE_HZ, MAX_RATE_HZ)),
        t0_ns=draw(st.integers(-(2**63), 2**63 - 1)),
        seq=draw(st.integers(0, 2**64 - 1)),
        samples=samples,
        nan_allowed=nan_allowed,
    )


def _valid_frame_bytes(draw: st.DrawFn) -> bytes:
    frame = draw(frames())
    try:
        return encode(frame)
    except FrameError:  # e.g. a name longer than the format allows after UTF-8 encoding
        return encode(Frame("s", "d", SensorKind.EMG, ("a",), ("V",), 1000.0, 0, 0, np.zeros((1, 1), np.float32)))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(_valid_frame_bytes(draw))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["truncate", "flip", "field", "field", "extend", "splice", "sample"]))
        if how == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)):]
        elif how == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= draw(st.integers(1, 255))
        elif how == "field":
            name = draw(st.sampled_from(sorted(FIELDS)))
            offset, fmt = FIELDS[name]
            if name == "rate":
                value: float | int = draw(st.one_of(
                    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e308, MAX_RATE_HZ,
                                     MIN_RATE_HZ, math.nextafter(MAX_RATE_HZ, math.inf)]),
                    st.floats(allow_nan=True, allow_infinity=True)))
            else:
                size = struct.calcsize(fmt)
                bits = 8 * size
                value = draw(st.one_of(st.integers(0, 2**bits - 1), st.sampled_from([0, 1, 2**bits - 1])))
                if fmt == "<q":
                    value -= 2**63
            if len(data) >= offset + struct.calcsize(fmt):
                struct.pack_into(fmt, data, offset, value)
        elif how == "sample" and len(data) >= HEAD_SIZE + 4:
            # NaN or Inf into the last samples (the float32 payload ends the frame, 4-byte aligned)
            pos = len(data) - 4 * draw(st.integers(1, max(1, (len(data) - HEAD_SIZE) // 8)))
            struct.pack_into("<f", data, pos, draw(st.sampled_from([math.nan, math.inf, -math.inf])))
        elif how == "extend":
            data += draw(st.binary(min_size=1, max_size=16))
        elif how == "splice" and data:
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def assert_consistent(frame: Frame) -> None:
    """Every invariant the format promises to a consumer of a decoded frame."""
    n_ch, n = frame.samples.shape
    assert 1 <= n_ch <= MAX_CHANNELS and 1 <= n <= MAX_SAMPLES and n_ch * n <= MAX_VALUES
    assert len(frame.channels) == n_ch and len(frame.units) == n_ch
    assert all(c and "," not in c for c in frame.channels) and all("," not in u for u in frame.units)
    assert frame.station and isinstance(frame.kind, SensorKind)
    assert math.isfinite(frame.rate_hz) and MIN_RATE_HZ <= frame.rate_hz <= MAX_RATE_HZ
    assert frame.samples.dtype == np.dtype("<f4") and not frame.samples.flags.writeable
    assert not np.isinf(frame.samples).any()
    assert frame.nan_allowed or np.isfinite(frame.samples).all()
    assert -(2**63) <= frame.t0_ns < 2**63 and 0 <= frame.seq < 2**64
    assert frame.end_ns - frame.t0_ns == frame.duration_ns >= 0
    # What decode accepts, encode reproduces: the decoded frame is an ordinary, valid frame.
    again = decode(encode(frame))
    assert (again.station, again.device, again.kind, again.channels, again.units, again.rate_hz, again.t0_ns,
            again.seq, again.nan_allowed) == (frame.station, frame.device, frame.kind, frame.channels, frame.units,
                                              frame.rate_hz, frame.t0_ns, frame.seq, frame.nan_allowed)
    assert np.array_equal(again.samples, frame.samples, equal_nan=True)


def decode_or_frame_error(data: bytes | bytearray | memoryview) -> Frame | None:
    try:
        frame = decode(data)
    except FrameError as exc:
        assert exc.reason and "\n" not in exc.reason  # one line, never empty: it becomes a dead letter's reason
        return None
    assert_consistent(frame)
    return frame


@settings(FUZZ, max_examples=60)
@given(frames())
def test_valid_frames_round_trip_exactly(frame: Frame) -> None:
    try:
        data = encode(frame)
    except FrameError:
        return  # a generated name too long for the format: refusing it is correct
    got = decode(data)
    assert_consistent(got)
    assert got.channels == frame.channels and got.station == frame.station and got.rate_hz == frame.rate_hz
    assert np.array_equal(got.samples, frame.samples, equal_nan=True)


@FUZZ
@given(mutated())
def test_mutated_frames_decode_consistently_or_raise_frame_error(data: bytes) -> None:
    decode_or_frame_error(data)


@settings(FUZZ, max_examples=60)
@given(st.data())
def test_every_buffer_type_is_accepted_or_refused_cleanly(data: st.DataObject) -> None:
    raw = data.draw(mutated())
    as_array = np.frombuffer(raw + b"\0" * (-len(raw) % 4), dtype=np.uint32)
    for view in (bytearray(raw), memoryview(raw), memoryview(as_array), memoryview(raw)[::2]):
        decode_or_frame_error(view)


@pytest.mark.parametrize("thing", ["KS", 12345, None, [1, 2, 3]])
def test_non_bytes_raise_frame_error(thing: object) -> None:
    with pytest.raises(FrameError, match="bytes-like"):
        decode(thing)  # type: ignore[arg-type]


def test_huge_declared_sizes_allocate_nothing() -> None:
    good = bytearray(encode(Frame("s", "d", SensorKind.FORCE, ("fz",), ("N",), 1000.0, 0, 0,
                                  np.zeros((1, 4), np.float32))))
    for n_ch, n in ((255, MAX_SAMPLES), (1, 2**32 - 1), (255, MAX_VALUES // 255 + 1)):
        struct.pack_into("<BI", good, 5, n_ch, n)
        with pytest.raises(FrameError):
            decode(bytes(good))


@settings(FUZZ, max_examples=100)
@given(mutated(), st.sampled_from([None, b"station-x", b""]))
def test_every_dead_letter_carries_its_reason(data: bytes, key: bytes | None) -> None:
    engine = AnalyzerEngine()
    out = engine.handle(Message("kinesync.emg", 0, 7, key, data, 0), now_wall_ns=0)
    if out.frame is None:
        assert len(out.dead_letters) == 1 and engine.counters.dead_letters == 1
        letter = out.dead_letters[0]
        assert letter.reason.strip() and "\n" not in letter.reason
        assert letter.size == len(data) and letter.payload_hex == data[:64].hex()
    else:
        assert not out.dead_letters and key in (None, out.frame.station.encode())


@settings(FUZZ, max_examples=60)
@given(mutated())
def test_ingest_refusals_carry_their_reason(data: bytes) -> None:
    store = TokenStore()
    token = store.add("dev", ["*"])
    publisher = Publisher(MemoryBus())
    ingest = Ingest(publisher, store, max_body_bytes=64 * 1024, high_water=0.9)
    try:
        frame = ingest.parse(data, "application/octet-stream")
        device, grant = store.authenticate(token) or ("", None)
        ingest.accept(frame, device, grant)
    except IngestError as exc:
        assert exc.detail.strip() and exc.reason.strip() and 400 <= exc.status < 500
        assert sum(publisher.stats.rejected.values()) + publisher.stats.frames_invalid == 1


@pytest.mark.parametrize(
    ("patch", "reason"),
    [({"seq": 2**64}, "seq"), ({"t0_ns": 2**63}, "t0_ns"), ({"rate_hz": 1e-320}, "sample rate"),
     ({"samples": [[1e300]]}, "Inf")],
)
def test_json_frames_beyond_the_header_ranges_are_refused(patch: dict, reason: str) -> None:
    from fastapi.testclient import TestClient

    from kinesync.ingest import create_gateway_app

    store = TokenStore()
    token = store.add("d", ["*"])
    client = TestClient(create_gateway_app(Publisher(MemoryBus()), store), raise_server_exceptions=False)
    body = {"station": "s", "device": "d", "kind": "emg", "channels": ["a"], "rate_hz": 100, "seq": 1,
            "samples": [[1.0, 2.0]], **patch}
    r = client.post("/v1/frames", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and reason in r.json()["detail"], r.text


def test_encode_refuses_times_and_sequences_the_header_cannot_hold() -> None:
    base = dict(station="s", device="d", kind=SensorKind.EMG, channels=("a",), units=("V",), rate_hz=100.0,
                samples=np.zeros((1, 2), np.float32))
    for t0, seq in ((2**63, 0), (-(2**63) - 1, 0), (0, -1), (0, 2**64)):
        with pytest.raises(FrameError, match="does not fit the header"):
            encode(Frame(t0_ns=t0, seq=seq, **base))


# atheris: coverage-guided fuzzing of the same contract, when the package is installed


def _atheris_target(data: bytes) -> None:
    try:
        frame = decode(data)
    except FrameError:
        return
    assert_consistent(frame)


def _seed_corpus(folder: Path) -> None:
    rng = np.random.default_rng(3)
    for i, (n_ch, n, nan_allowed) in enumerate([(1, 1, False), (8, 100, False), (3, 7, True), (2, 50, True)]):
        samples = rng.normal(0, 1, (n_ch, n)).astype(np.float32)
        frame = Frame(f"station-{i}", "dev", SensorKind(1 + i % 3), tuple(f"c{j}" for j in range(n_ch)),
                      ("V",) if i % 2 else tuple("N" for _ in range(n_ch)), 1925.925925925926, 10**18, i, samples,
                      nan_allowed)
        (folder / f"seed-{i}").write_bytes(encode(frame))


def test_atheris_short_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _seed_corpus(corpus)
    runs = 20_000
    proc = subprocess.run(
        [sys.executable, __file__, f"-runs={runs}", "-seed=1", "-max_total_time=20", "-max_len=4096", str(corpus)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Done" in out and "Uncaught Python exception" not in out, out[-2000:]


if __name__ == "__main__":
    import atheris

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import kinesync.codec.frame as codec

    # The decoder's functions are already imported; instrument them in place for coverage feedback.
    for func in (codec.decode, codec._read_text, codec._check_rate, codec.encode, _atheris_target):
        atheris.instrument_func(func)
    atheris.Setup(sys.argv, _atheris_target)
    atheris.Fuzz()
