from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kinesync.codec.frame import Frame, SensorKind
from kinesync.streaming.ring import SampleRing
from kinesync.streaming.stream import SensorStream

RATE = 1925.925925925926
T0 = 1_763_900_000_000_000_000


def frames_of(x: np.ndarray, cuts: list[int]) -> list[Frame]:
    out, start = [], 0
    for seq, stop in enumerate([*cuts, x.shape[1]]):
        if stop <= start:
            continue
        out.append(Frame("s1", "d", SensorKind.EMG, ("a", "b"), ("V",), RATE,
                         T0 + round(start * 1e9 / RATE), seq, x[:, start:stop].astype(np.float32)))
        start = stop
    return [Frame(f.station, f.device, f.kind, f.channels, f.units, f.rate_hz, f.t0_ns, i, f.samples)
            for i, f in enumerate(out)]


class CumSum:
    """A stateful transform: any reordering or re-cutting error changes its output."""

    def __init__(self) -> None:
        self.acc = np.zeros(2)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = self.acc[:, None] + np.cumsum(block, axis=1)
        self.acc = out[:, -1].copy()
        return out


def run(frames: list[Frame], n: int) -> tuple[np.ndarray, SensorStream]:
    s = SensorStream(rate_hz=RATE, channels=("a", "b"), transform=CumSum(), n_out=2,
                     capacity_s=n / RATE + 1, lateness_ns=10**9)
    for f in frames:
        s.add(f)
    return s.ring.read(s.ring.start, s.ring.end), s


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(1, 1199), max_size=30), order_seed=st.integers(0, 2**31), window=st.integers(1, 6))
def test_any_framing_and_arrival_order_within_lateness_gives_identical_samples(
    cuts: list[int], order_seed: int, window: int
) -> None:
    x = np.random.default_rng(3).normal(size=(2, 1200)).astype(np.float32).astype(np.float64)
    reference, _ = run(frames_of(x, []), 1200)
    frames = frames_of(x, sorted(set(cuts)))
    # Shuffle within blocks of `window` frames: late, but well within the 1 s lateness bound.
    rng = np.random.default_rng(order_seed)
    shuffled = []
    for i in range(0, len(frames), window):
        block = frames[i : i + window]
        shuffled.extend(block[j] for j in rng.permutation(len(block)))
    got, stream = run(shuffled, 1200)
    assert np.array_equal(got, reference)
    assert stream.counters.late_frames == 0 and stream.counters.gaps == 0
    assert stream.watermark_ns == T0 + round(1200 * 1e9 / RATE)


def test_missing_frame_becomes_a_counted_gap_after_the_lateness_bound() -> None:
    x = np.ones((2, 6000))
    frames = frames_of(x, list(range(100, 6000, 100)))
    del frames[3]
    _, s = run(frames, 6000)
    assert s.counters.gaps == 1 and s.counters.gap_samples == 100
    assert s.has_gap(300, 400) and not s.has_gap(0, 300)


def test_duplicate_frame_is_dropped_as_late() -> None:
    x = np.ones((2, 400))
    frames = frames_of(x, [100, 200, 300])
    got, s = run([*frames[:2], frames[0], *frames[2:]], 400)
    assert s.counters.late_frames == 1
    assert got.shape[1] == 400


def test_ring_wraps_and_refuses_what_it_no_longer_holds() -> None:
    r = SampleRing(1, 10)
    r.reset(5)
    for k in range(4):
        r.append(np.arange(k * 4, k * 4 + 4, dtype=float)[None, :])
    assert (r.start, r.end) == (11, 21)
    assert r.read(15, 21)[0].tolist() == [float(v) for v in range(10, 16)]
    try:
        r.read(10, 12)
    except IndexError:
        pass
    else:
        raise AssertionError("read of dropped samples must fail")


def test_rings_carved_from_shared_memory_are_zeroed_aligned_and_separate() -> None:
    from kinesync.streaming.ring import CHUNK_BYTES

    shapes = [(6, 13_001, np.float32), (3, 11_250, np.float64), (1, 7, np.float64), (2, 3, np.float32)] * 20
    rings = [SampleRing(c, cap, dtype=dt) for c, cap, dt in shapes]
    for ring, (c, cap, dt) in zip(rings, shapes, strict=True):
        buf = ring._buf
        assert buf.shape == (c, cap) and buf.dtype == dt and buf.flags.c_contiguous and buf.flags.aligned
        assert not buf.any()
        assert buf.ctypes.data % 64 == 0  # each ring on a cache line of its own
        assert ring._chunk[ring._slot] is not buf and np.shares_memory(ring._chunk[ring._slot], buf)
    # Rings of one shape are slots of one chunk, so one assignment can fill many of them.
    same = [r for r in rings if r._buf.shape == (6, 13_001)]
    assert len({r._chunk_id for r in same}) == 1 and len({r._slot for r in same}) == len(same)
    # Every ring is its own memory: filling one changes no other.
    for k, ring in enumerate(rings):
        ring.append(np.full((ring._buf.shape[0], min(5, ring.capacity)), k + 1.0))
    for k, ring in enumerate(rings):
        n = min(5, ring.capacity)
        assert (ring.read(0, n) == k + 1.0).all() and not ring._buf[:, n:].any()
    spans = sorted((r._buf.ctypes.data, r._buf.ctypes.data + r._buf.nbytes) for r in rings)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    # A ring larger than a chunk gets a chunk of its own, zeroed like the others.
    big = [SampleRing(4, CHUNK_BYTES // 16, dtype=np.float64) for _ in range(2)]
    assert big[0]._chunk_id != big[1]._chunk_id and big[0]._chunk.shape[0] == 1 and not big[1]._buf.any()


def test_batch_groups_are_one_int_per_layout_even_when_streams_are_made_in_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from kinesync.streaming.stream import _group_of

    keys = [("layout-under-test", i) for i in range(400)]
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(_group_of, keys))
        again = list(pool.map(_group_of, reversed(keys)))
    assert len(set(first)) == len(keys)  # distinct layouts never share a group
    assert again[::-1] == first  # the same layout always gets its group back
