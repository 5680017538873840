from __future__ import annotations

import struct

import numpy as np
import pytest

from kinesync.codec.frame import MAX_RATE_HZ, Frame, FrameError, SensorKind, decode, encode, overhead


def make_frame(n_ch: int = 8, n: int = 100, rate: float = 2000.0, **kw) -> Frame:
    rng = np.random.default_rng(1)
    names = kw.pop("channels", ("quad", "glute", "pec", "spare", "tri", "delt", "bic", "lat")[:n_ch])
    return Frame(
        station=kw.pop("station", "station-01"), device=kw.pop("device", "emg-01"), kind=kw.pop("kind", SensorKind.EMG),
        channels=tuple(names), units=kw.pop("units", ("V",)), rate_hz=rate,
        t0_ns=kw.pop("t0_ns", 1_763_900_000_123_456_789), seq=kw.pop("seq", 42),
        samples=kw.pop("samples", rng.normal(0, 1e-3, (n_ch, n)).astype(np.float32)), **kw,
    )


def test_round_trip_is_exact_and_zero_copy() -> None:
    f = make_frame()
    data = encode(f)
    g = decode(data)
    assert (g.station, g.device, g.kind, g.channels, g.rate_hz, g.t0_ns, g.seq) == (
        f.station, f.device, f.kind, f.channels, f.rate_hz, f.t0_ns, f.seq)
    assert g.units == ("V",) * 8
    assert np.array_equal(g.samples, f.samples)
    assert g.samples.dtype == np.dtype("<f4")
    assert not g.samples.flags.owndata  # a view on the received bytes
    assert np.shares_memory(g.samples, np.frombuffer(data, dtype=np.uint8))


def test_exact_non_integer_rates_survive() -> None:
    for rate in (1925.925925925926, 2148.148148148148, 1000.0):
        assert decode(encode(make_frame(rate=rate))).rate_hz == rate


def test_per_channel_units_and_nan_gap_markers() -> None:
    samples = np.ones((3, 10), dtype=np.float32)
    samples[1, 4] = np.nan
    f = make_frame(n_ch=3, n=10, channels=("fz", "cop_x", "my"), units=("N", "m", "N.m"), kind=SensorKind.FORCE,
                   samples=samples, nan_allowed=True)
    g = decode(encode(f))
    assert g.units == ("N", "m", "N.m")
    assert np.isnan(g.samples[1, 4]) and g.nan_allowed


def test_overhead_of_a_50ms_8ch_2khz_frame_is_under_3_percent() -> None:
    f = make_frame(n_ch=8, n=100)
    assert overhead(f) < 0.03, overhead(f)


def test_samples_start_on_a_4_byte_boundary_after_minimal_zero_padding() -> None:
    # Station names of 1..4 bytes shift the text block through every residue mod 4, so each of the
    # four padding lengths (3, 2, 1, 0) occurs once.
    pads = set()
    for station in ("a", "ab", "abc", "abcd"):
        f = make_frame(station=station)
        data = encode(f)
        # 34 header bytes, then four uint16-length-prefixed strings (one unit stands for every channel).
        text_end = 34 + sum(2 + len(s.encode()) for s in (station, f.device, ",".join(f.channels), ",".join(f.units)))
        offset = len(data) - 4 * f.samples.size
        assert offset % 4 == 0, (station, offset)
        assert 0 <= offset - text_end < 4, (station, text_end, offset)
        assert data[text_end:offset] == b"\x00" * (offset - text_end)
        pads.add(offset - text_end)
        g = decode(data)
        # The decoded samples are a view starting exactly at that offset of the received bytes.
        base = np.frombuffer(data, dtype=np.uint8).ctypes.data
        assert g.samples.ctypes.data - base == offset, station
        assert g.samples.tobytes() == data[offset:]
    assert pads == {0, 1, 2, 3}


def _corrupt(data: bytes, pos: int, value: bytes) -> bytes:
    return data[:pos] + value + data[pos + len(value):]


GOOD = encode(make_frame())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "truncated header"),
        (GOOD[:20], "truncated header"),
        (_corrupt(GOOD, 0, b"XX"), "wrong magic"),
        (_corrupt(GOOD, 2, b"\x09"), "unsupported frame version"),
        (_corrupt(GOOD, 3, b"\x07"), "unknown sensor kind"),
        (_corrupt(GOOD, 4, b"\x80"), "unknown flag bits"),
        (_corrupt(GOOD, 5, b"\x00"), "0 channels"),
        (_corrupt(GOOD, 5, b"\x07"), "channel names for 7 channels"),
        (_corrupt(GOOD, 6, struct.pack("<I", 0)), "absurd size"),
        (_corrupt(GOOD, 6, struct.pack("<I", 10**9)), "absurd size"),
        (_corrupt(GOOD, 10, struct.pack("<d", float("nan"))), "sample rate"),
        (_corrupt(GOOD, 10, struct.pack("<d", -5.0)), "sample rate"),
        (_corrupt(GOOD, 10, struct.pack("<d", MAX_RATE_HZ * 10)), "sample rate"),
        (_corrupt(GOOD, 34, struct.pack("<H", 60000)), "station length"),
        (GOOD[:-1], "truncated"),
        (GOOD + b"\x00\x00\x00\x00", "trailing bytes"),
        (GOOD[:36], "truncated"),
    ],
)
def test_malformed_frames_raise_frame_error_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as err:
        decode(payload)
    assert reason in err.value.reason


def test_nan_and_inf_rejected_unless_gap_markers_allowed() -> None:
    data = bytearray(GOOD)
    struct.pack_into("<f", data, len(data) - 4, float("nan"))
    with pytest.raises(FrameError, match="NaN"):
        decode(bytes(data))
    data = bytearray(encode(make_frame(nan_allowed=True)))
    struct.pack_into("<f", data, len(data) - 4, float("inf"))
    with pytest.raises(FrameError, match="Inf"):
        decode(bytes(data))


def test_invalid_utf8_station() -> None:
    data = bytearray(GOOD)
    data[36] = 0xFF
    with pytest.raises(FrameError, match="UTF-8"):
        decode(bytes(data))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": ("a", "b")},
        {"units": ("V", "V", "V")},
        {"station": ""},
        {"channels": ("a,b",) + ("c",) * 7},
        {"samples": np.full((8, 100), np.inf, dtype=np.float32)},
    ],
)
def test_encode_rejects_what_decode_would(kwargs: dict) -> None:
    with pytest.raises(FrameError):
        encode(make_frame(**kwargs))


def test_random_bytes_only_ever_raise_frame_error() -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 200))
        blob = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        if rng.random() < 0.5:
            blob = GOOD[: int(rng.integers(0, len(GOOD)))] + blob
        try:
            decode(blob)
        except FrameError:
            pass
