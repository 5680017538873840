"""Fast paths of the analyzer engine equal the plain definitions they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import kinesync.analysis.phases as phases
from kinesync.analysis.jump import _runs
from kinesync.codec.frame import Frame, SensorKind
from kinesync.dsp.filters import EnvelopeFilter
from kinesync.dsp.moments import mean_sd
from kinesync.dsp.onset import first_run_start, last_run_stop
from kinesync.dsp.running import cumsum_pair
from kinesync.streaming.batch import TransformBatch
from kinesync.streaming.ring import SampleRing
from kinesync.streaming.stream import SensorStream
from kinesync.streaming.transforms import EmgTransform, ForceTransform


@pytest.mark.parametrize("steps", [0, 1, 2, 16])
def test_first_and_last_run_equal_all_runs(steps: int) -> None:
    # steps 0: straight to the fallback
    rng = np.random.default_rng(1)
    for _ in range(3000):
        mask = rng.random(int(rng.integers(0, 60))) < rng.random()
        k = int(rng.integers(1, 6))
        runs = _runs(mask, k)
        assert first_run_start(mask, k, steps) == (runs[0][0] if runs else None)
        assert last_run_stop(mask, k, steps) == (runs[-1][1] if runs else None)


def test_cumulative_from_the_first_non_zero_sample_equals_the_whole_sum() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3000):
        n, i0 = int(rng.integers(0, 40)), int(rng.integers(0, 45))
        x = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 4))
        if rng.random() < 0.2:
            x = np.round(x)
        if rng.random() < 0.1:
            x = -np.abs(x) * 0.0  # -0.0 after the zeros
        x[:i0] = 0.0
        fs = float(rng.choice([1000.0, 999.7, 1925.926]))
        assert phases._cumulative(x, fs, i0).tobytes() == phases._cumulative(x, fs).tobytes()


def test_paired_running_sums_equal_two_cumsums() -> None:
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(0, 3000))
        a = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 6))
        b = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 6))
        lead = bool(rng.random() < 0.5)
        x, y = cumsum_pair(a, b, leading_zero=lead)
        head = [0.0] if lead else []
        assert x.tobytes() == np.concatenate((head, np.cumsum(a))).tobytes()
        assert y.tobytes() == np.concatenate((head, np.cumsum(b))).tobytes()
        fs = float(rng.choice([1000.0, 999.7, 1925.926]))
        cx, cy = phases._cumulative_pair(a, b, fs)
        assert cx.tobytes() == phases._cumulative(a, fs).tobytes()
        assert cy.tobytes() == phases._cumulative(b, fs).tobytes()


def test_mean_and_sd_equal_numpys() -> None:
    rng = np.random.default_rng(6)
    for _ in range(2000):
        x = 700.0 + rng.normal(size=int(rng.integers(2, 2000))) * 10.0 ** int(rng.integers(-2, 3))
        assert mean_sd(x, ddof=1) == (float(x.mean()), float(x.std(ddof=1)))
        assert mean_sd(x) == (float(x.mean()), float(x.std()))


def test_phases_with_equals_dataclasses_replace() -> None:
    from dataclasses import replace

    ph = phases.Phases(fs_hz=1000.0, bw_n=700.0, flags=("a",))
    assert phases._with(ph, onset_index=3.5, flags=()) == replace(ph, onset_index=3.5, flags=())


def test_emg_transform_equals_its_plain_definition() -> None:
    """Envelopes of the role rows and their means (ndarray.mean), with and without the no-NaN hint."""
    rng = np.random.default_rng(5)
    layouts = (("quad", "glute", "pec", "spare"), ("quad", "pec"), ("quad", "glute", "vastus", "pec", "pec_2"))
    for channels in layouts:
        hinted, plain = EmgTransform(channels, 2000.0, 6.0), EmgTransform(channels, 2000.0, 6.0)
        ref = EnvelopeFilter(2000.0, len(hinted.rows), high_hz=450.0, cutoff_hz=6.0)
        n_leg = len(hinted.leg_rows)
        for _ in range(10):
            block = (rng.normal(size=(len(channels), 100)) * 1e-4).astype(np.float32)
            raw = block[hinted.rows].astype(np.float64)
            env = ref.process(raw)
            want = np.vstack([env[:n_leg].mean(axis=0), env[n_leg:].mean(axis=0), raw])
            assert hinted(block, True).tobytes() == want.tobytes()
            assert plain(block).tobytes() == want.tobytes()


def test_ring_append_wraps_like_a_sample_by_sample_ring() -> None:
    rng = np.random.default_rng(7)
    ring = SampleRing(2, 37)
    ref: list[np.ndarray] = []
    ring.reset(5)
    for _ in range(200):
        block = rng.normal(size=(2, int(rng.integers(1, 50))))
        ring.append(block)
        ref.append(block)
        allx = np.concatenate(ref, axis=1)
        assert ring.end == 5 + allx.shape[1]
        assert ring.start == max(5, ring.end - 37)
        assert np.array_equal(ring.read(ring.start, ring.end), allx[:, ring.start - 5 :])


def test_transforms_of_many_streams_at_once_equal_one_call_each() -> None:
    """``EmgTransform.many`` / ``ForceTransform.many`` (one filter call for every station of a layout) give
    each stream exactly its own call's output and leave each filter in the state its own calls would."""
    rng = np.random.default_rng(8)
    for channels in (("quad", "glute", "pec", "spare"), ("quad", "glute", "vastus", "pec", "pec_2"), ("quad", "pec")):
        alone = [EmgTransform(channels, 2000.0, 6.0) for _ in range(3)]
        together = [EmgTransform(channels, 2000.0, 6.0) for _ in range(3)]
        assert len({t.batch_key for t in together}) == 1
        for step in range(6):
            blocks = [(rng.normal(size=(len(channels), 100)) * 1e-4).astype(np.float32) for _ in alone]
            if step == 3:
                blocks[1][0, 10:20] = np.nan  # a gap marker in one station's frame
            want = [t(b, step != 3) for t, b in zip(alone, blocks, strict=True)]
            got = EmgTransform.many(together, blocks, step != 3)
            for w, g in zip(want, got, strict=True):
                assert g.tobytes() == w.tobytes()
    for force_channels in (("fx_left", "fy_left", "fz_left", "fz_right", "mx_left", "fx_right", "fy_right", "my_right"),
                           ("fz_left", "fx_left", "fz_right", "fy_left")):  # rows apart: a list, not a slice
        forces = [ForceTransform(force_channels) for _ in range(4)]
        blocks = [(rng.normal(size=(len(force_channels), 50)) * 300).astype(np.float32) for _ in forces]
        got = ForceTransform.many(forces, blocks, True)
        for t, b, g in zip(forces, blocks, got, strict=True):
            assert g.tobytes() == t(b).tobytes()


def test_a_transform_that_raises_in_a_batch_fails_only_its_own_station() -> None:
    channels = ("quad", "glute", "pec")

    def stream() -> SensorStream:
        return SensorStream(rate_hz=2000.0, channels=channels, transform=EmgTransform(channels, 2000.0, 6.0), n_out=5,
                            capacity_s=2.0, lateness_ns=0)

    def frame(i: int, block: np.ndarray) -> Frame:
        return Frame("s", "d", SensorKind.EMG, channels, ("V",) * 3, 2000.0, i * 50_000_000, i, block)

    rng = np.random.default_rng(1)
    blocks = [(rng.normal(size=(3, 100)) * 1e-4).astype(np.float32) for _ in range(2)]
    good, bad = stream(), stream()
    for s in (good, bad):
        s.add(frame(0, blocks[0]))  # a stream's first frame starts it, outside any batch
    bad.transform._filter = object()  # its filter breaks after the first frame: the shared call raises
    batch = TransformBatch()
    for owner, s in (("good", good), ("bad", bad)):
        batch.owner(owner)
        s.add(frame(1, blocks[1]), None, batch)
    assert good.ring.end == 100 and good.watermark_ns == 100_000_000  # the watermark moves, the ring waits
    failed = batch.flush()
    assert [owner for owner, _ in failed] == ["bad"]  # then each on its own: only the broken one fails
    assert good.ring.end == 200 and not good.deferred and not bad.deferred
    ref = EmgTransform(channels, 2000.0, 6.0)
    want = np.hstack([ref(b) for b in blocks])
    assert good.ring.read(0, 200).tobytes() == want.tobytes()


def test_a_filter_in_a_bank_and_on_its_own_shares_one_state() -> None:
    from kinesync.dsp.filters import FilterBank

    rng = np.random.default_rng(4)
    banked = [EnvelopeFilter(2000.0, 2) for _ in range(3)]
    solo = [EnvelopeFilter(2000.0, 2) for _ in range(3)]
    for step in range(8):
        blocks = [rng.normal(size=(2, 100)) for _ in solo]
        want = [f.process(b) for f, b in zip(solo, blocks, strict=True)]
        if step % 3 == 2:  # now and then each filter on its own, between bank calls
            got = [f.process(b) for f, b in zip(banked, blocks, strict=True)]
        else:
            work = np.vstack(blocks)
            bank = FilterBank.of(banked)
            assert step < 2 or bank is FilterBank.of(banked)  # the same stations: the same bank, no copying
            bank.process_inplace(work)
            got = [work[2 * i : 2 * i + 2] for i in range(3)]
        for w, g in zip(want, got, strict=True):
            assert g.tobytes() == w.tobytes()
    # another order of the same filters takes their states over into a new bank
    assert FilterBank.of(banked[::-1]) is not FilterBank.of(banked[::-1][::-1])


def test_rings_appended_at_once_equal_one_append_each() -> None:
    """``SampleRing.append_each`` (a batched transform's outputs into their rings): the same samples as one
    ``append`` per ring, through wraps, blocks longer than a ring, rings of other dtypes, starts and column
    shifts, in the same columns of one chunk or not."""
    rng = np.random.default_rng(9)
    shared = 0
    for _ in range(300):
        k, n = int(rng.integers(1, 9)), int(rng.integers(1, 60))
        caps = [int(rng.choice([37, 90, int(rng.integers(1, 90))])) for _ in range(k)]
        dtypes = [np.float32 if rng.random() < 0.7 else np.float64 for _ in range(k)]
        together = [SampleRing(3, c, d) for c, d in zip(caps, dtypes, strict=True)]
        alone = [SampleRing(3, c, d) for c, d in zip(caps, dtypes, strict=True)]
        # Rings that start at other samples and columns: some share their columns (one assignment), some not.
        for a, b in zip(together, alone, strict=True):
            index = int(rng.choice([0, 0, 5, int(rng.integers(0, 50))]))
            shift = int(rng.choice([0, 0, 3, int(rng.integers(0, 10**12))]))
            a.reset(index, shift)
            b.reset(index, shift)
        for _ in range(int(rng.integers(1, 8))):
            blocks = rng.normal(size=(k, 3, n)) * 10.0 ** float(rng.integers(-40, 40))
            columns = [(r._chunk_id, (r.end + r.shift) % r.capacity) for r in together
                       if (r.end + r.shift) % r.capacity + n <= r.capacity]
            shared += len(columns) - len(set(columns))  # rings filled by one assignment with another
            with np.errstate(over="ignore"):  # beyond float32's range: inf either way
                SampleRing.append_each(together, blocks)
                for ring, block in zip(alone, blocks, strict=True):
                    ring.append(block)
        for a, b in zip(together, alone, strict=True):
            assert (a.start, a.end) == (b.start, b.end)
            assert a.read(a.start, a.end).tobytes() == b.read(b.start, b.end).tobytes()
    assert shared > 50


def test_a_stream_queued_twice_in_a_batch_is_transformed_once() -> None:
    """A drain transforms a stream's queued blocks on their own (an out-of-order frame came); its next in-order
    frame queues it on the batch again. The flush must transform that block once, like one call per frame."""
    channels = ("quad", "glute", "pec")

    def stream() -> SensorStream:
        return SensorStream(rate_hz=2000.0, channels=channels, transform=EmgTransform(channels, 2000.0, 6.0), n_out=5,
                            capacity_s=2.0, lateness_ns=10**9)

    rng = np.random.default_rng(2)
    blocks = [(rng.normal(size=(3, 100)) * 1e-4).astype(np.float32) for _ in range(5)]

    def frame(i: int) -> Frame:
        return Frame("s", "d", SensorKind.EMG, channels, ("V",) * 3, 2000.0, i * 50_000_000, i, blocks[i])

    batched, alone = stream(), stream()
    for i in range(5):
        alone.add(frame(i))
    batched.add(frame(0))
    batch = TransformBatch()
    batch.owner("station")
    for i in (1, 3, 2, 4):  # 3 before 2: drained on its own, then 4 queues the stream again
        batched.add(frame(i), None, batch)
    assert batch.flush() == []
    assert (batched.ring.end, batched.next_index, batched.deferred) == (500, 500, [])
    assert batched.ring.read(0, 500).tobytes() == alone.ring.read(0, 500).tobytes()


def test_the_one_partner_limit_equals_the_walk_over_every_partner() -> None:
    """``StationAnalyzer._limit_for`` (a station with EMG and force and no bar sensor to wait for: its one
    partner, directly) equals ``_limit_among_all`` (every partner slot in order) on random states: streams
    started or not, partners stale or not, held-back frames, a bar sensor present or expected, finishing."""
    from kinesync.models import SessionAssignment
    from kinesync.streaming.station import AnalysisConfig, StationAnalyzer

    rng = np.random.default_rng(11)

    def stream() -> SensorStream:
        return SensorStream(rate_hz=1000.0, channels=("fz",), transform=ForceTransform(("fz",)), n_out=3,
                            capacity_s=1.0, lateness_ns=10**9)

    def maybe(value: int) -> int | None:
        return None if rng.random() < 0.2 else value

    fast = slow = 0
    for _ in range(3000):
        expected = {SensorKind.EMG, SensorKind.FORCE}
        if rng.random() < 0.2:
            expected.add(SensorKind.VELOCITY)
        if rng.random() < 0.1:
            expected.discard(SensorKind.FORCE)
        st = StationAnalyzer("s", AnalysisConfig(expected=frozenset(expected)))
        now = int(rng.integers(0, 10**10))
        st._created_wall_ns = maybe(now - int(rng.integers(0, 4 * 10**9)))
        st._finishing = bool(rng.random() < 0.05)
        if rng.random() < 0.2:
            st.assignment = SessionAssignment(station="s", athlete="a", bar_sensor=bool(rng.random() < 0.5))
        slots = []
        for name in ("emg", "force", "bar"):
            s = stream() if rng.random() < (0.9 if name != "bar" else 0.2) else None
            if s is not None:
                s.seen_wall_ns = maybe(now - int(rng.integers(0, 4 * 10**9)))
                s.watermark_ns = maybe(int(rng.integers(0, 10**10)))
                if s.watermark_ns is None and rng.random() < 0.5:
                    t0 = int(rng.integers(0, 10**10))
                    block = np.zeros((1, 10), dtype=np.float32)
                    s.add(Frame("s", "d", SensorKind.FORCE, ("fz",), ("N",), 1000.0, t0, 3, block))  # held back
            setattr(st, name, s)
            slots.append(s)
        for s in [*slots, stream()]:
            if s is None:
                continue
            want = st._limit_among_all(s, now)
            assert st._limit_for(s, now) == want
            one_partner = st.bar is None and st.emg is not None and st.force is not None and s in (st.emg, st.force)
            fast += one_partner
            slow += not one_partner
    assert fast > 1000 and slow > 1000  # both paths taken often
