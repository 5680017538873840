"""The ``sim`` source: simulated stations with known ground truth, as a stream of frames.

Every station has an EMG kit and a dual force plate; with ``bar=True`` also a linear position
transducer on the bar (kind VELOCITY, channel ``bar_z`` in m, ``AthleteSpec.bar_rate_hz``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np

from kinesync.codec.frame import Frame, SensorKind
from kinesync.models import SessionAssignment
from kinesync.sim.athlete import AthleteSpec, SimAthlete

_YIELD_EVERY_S = 0.002  # synthesising ahead hands the event loop back this often


@dataclass(frozen=True)
class SimStation:
    station: str
    athlete: str
    spec: AthleteSpec
    exercise: str = "back_squat"
    team: str = "first-team"

    def assignment(self, now_ns: int, bar: bool = False) -> SessionAssignment:
        return SessionAssignment(
            station=self.station,
            athlete=self.athlete,
            team=self.team,
            exercise=self.exercise,
            session=f"sim-{self.station}",
            updated_at_ns=now_ns,
            bar_sensor=bar,
        )


def sim_stations(
    n: int, lags_ms: Sequence[float], seed: int = 7, rep_periods_s: Sequence[float] = (3.0, 3.0)
) -> list[SimStation]:
    """``n`` stations named station-01.. with true lags taken from ``lags_ms`` in turn, each with a rep
    period drawn (seeded, uniform) from ``rep_periods_s`` = (low, high), s. Equal ends put every station
    in step: the whole floor ends its reps in the same 50 ms, which no floor of people does."""
    low, high = rep_periods_s
    if not 0.0 < low <= high:
        raise ValueError(f"rep_periods_s must be (low, high) with 0 < low <= high, got {rep_periods_s}")
    periods = np.random.default_rng([seed, 1]).uniform(low, high, n) if high > low else np.full(n, low)
    out = []
    for i in range(n):
        spec = AthleteSpec(lag_ms=float(lags_ms[i % len(lags_ms)]), seed=seed * 1000 + i,
                           rep_period_s=float(periods[i]))
        out.append(SimStation(f"station-{i + 1:02d}", f"Athlete {i + 1:02d}", spec))
    return out


class _Device:
    """One simulated device: cuts its sample stream into frames on a shared facility clock."""

    def __init__(
        self,
        station: str,
        name: str,
        kind: SensorKind,
        channels: tuple[str, ...],
        unit: str,
        rate_hz: float,
        source,
        origin_ns: int,
    ) -> None:
        self.station, self.name, self.kind = station, name, kind
        self.channels, self.unit, self.rate_hz = channels, unit, rate_hz
        self._source = source
        self._origin_ns = origin_ns
        self.next_index = 0
        self.seq = 0
        self._ready: np.ndarray | None = None  # samples from index 0 synthesised before the session (float32)

    def presynthesise(self, session_s: float) -> None:
        """Synthesise the first ``session_s`` of samples now; ``frames_until`` then only cuts them into frames.
        The simulated athlete's samples do not depend on how they are asked for (in one call or frame by
        frame), so the frames are the same either way."""
        n = int(np.floor(session_s * self.rate_hz + 1e-9))
        self._ready = self._source(0, n).astype(np.float32) if n > 0 else None

    def start_at(self, origin_ns: int) -> None:
        self._origin_ns = origin_ns

    def frames_until(self, t_s: float) -> list[Frame]:
        """Frames covering session time up to ``t_s`` (one frame; sample counts follow the rate)."""
        stop = int(np.floor(t_s * self.rate_hz + 1e-9))
        n = stop - self.next_index
        if n <= 0:
            return []
        ready = self._ready
        if ready is not None and stop <= ready.shape[1]:
            samples = ready[:, self.next_index : stop]
        else:
            samples = self._source(self.next_index, n).astype(np.float32)
        frame = Frame(
            station=self.station,
            device=self.name,
            kind=self.kind,
            channels=self.channels,
            units=(self.unit,),
            rate_hz=self.rate_hz,
            t0_ns=self._origin_ns + round(self.next_index * 1e9 / self.rate_hz),
            seq=self.seq,
            samples=samples,
        )
        self.next_index = stop
        self.seq += 1
        return [frame]


class SimSource:
    """Emits 50 ms frames for every station, paced to the wall clock or as fast as possible."""

    def __init__(
        self,
        stations: Sequence[SimStation],
        *,
        frame_s: float = 0.05,
        realtime: bool = True,
        origin_ns: int | None = None,
        bar: bool = False,
        lookahead_s: float = 1.0,
        presynth_s: float = 0.0,
    ) -> None:
        """``presynth_s``: session time of every device synthesised before the session starts (the clock's
        origin is taken after it), instead of ``lookahead_s`` ahead while it runs: sensors' samples cost the
        machine that receives them nothing, and a benchmark of that machine should not pay for them either.
        64 kB of memory per standard station and second."""
        self.stations = list(stations)
        self.frame_s = frame_s
        self.realtime = realtime
        self.lookahead_s = lookahead_s  # paced runs: how far ahead of the wall clock frames are synthesised
        self.origin_ns = origin_ns if origin_ns is not None else 0
        self.devices: list[_Device] = []
        for st in self.stations:
            athlete = SimAthlete(st.spec)
            self.devices.append(
                _Device(
                    st.station,
                    f"{st.station}-emg",
                    SensorKind.EMG,
                    SimAthlete.EMG_CHANNELS,
                    "V",
                    st.spec.emg_rate_hz,
                    athlete.emg,
                    self.origin_ns,
                )
            )
            self.devices.append(
                _Device(
                    st.station,
                    f"{st.station}-force",
                    SensorKind.FORCE,
                    SimAthlete.FORCE_CHANNELS,
                    "N",
                    st.spec.force_rate_hz,
                    athlete.force,
                    self.origin_ns,
                )
            )
            if bar:
                self.devices.append(
                    _Device(
                        st.station,
                        f"{st.station}-bar",
                        SensorKind.VELOCITY,
                        SimAthlete.BAR_CHANNELS,
                        SimAthlete.BAR_UNITS,
                        st.spec.bar_rate_hz,
                        athlete.bar,
                        self.origin_ns,
                    )
                )
        if presynth_s > 0:
            for dev in self.devices:
                dev.presynthesise(presynth_s)
        if origin_ns is None:
            # Frames close on the facility clock's frame grid, of which the analysis windows' grid (whole
            # hops) is part: a window's last sample then leaves with the frame that ends at the window's
            # end, not up to a frame later depending on when the simulator happened to start.
            step_ns = round(frame_s * 1e9)
            self.origin_ns = -(-time.time_ns() // step_ns) * step_ns
            for dev in self.devices:
                dev.start_at(self.origin_ns)

    async def ticks(self, duration_s: float | None = None) -> AsyncIterator[list[Frame]]:
        """Yields the frames of each tick; runs until ``duration_s`` of session time (or forever)."""
        if self.realtime:
            async for frames in self._paced_ticks(duration_s):
                yield frames
            return
        k = 0
        while duration_s is None or k * self.frame_s < duration_s:
            k += 1
            yield self._tick_frames(k)
            await asyncio.sleep(0)

    def _tick_frames(self, k: int) -> list[Frame]:
        t_s = k * self.frame_s
        frames: list[Frame] = []
        for dev in self.devices:
            frames.extend(dev.frames_until(t_s))
        return frames

    async def _paced_ticks(self, duration_s: float | None) -> AsyncIterator[list[Frame]]:
        """Each tick's frames once the wall clock has passed its end, synthesised up to ``lookahead_s``
        before that, one device at a time in the time left between ticks.

        A simulated athlete synthesises a whole rep period at its first sample: 1.5-2.5 ms a station,
        every station in the same tick when they squat in step (95 ms at 64 stations, over half a
        second at 256). Synthesised on demand, that held up every frame behind it; a real sensor's
        frame costs nothing to make, so ahead of time is the faithful model.
        """

        def more(done: int) -> bool:
            return duration_s is None or done * self.frame_s < duration_s

        ahead = max(1, round(self.lookahead_s / self.frame_s))
        ready: deque[list[Frame]] = deque()
        part: list[Frame] = []
        built = 0  # ticks whose frames are all in ``ready``
        dev = 0  # the next device to synthesise for tick ``built + 1``
        k = 0
        while more(k):
            k += 1
            end_ns = self.origin_ns + k * self.frame_s * 1e9
            step_from = time.perf_counter()
            while built < k or (built < k - 1 + ahead and more(built) and time.time_ns() < end_ns):
                if dev < len(self.devices):
                    part.extend(self.devices[dev].frames_until((built + 1) * self.frame_s))
                    dev += 1
                if dev >= len(self.devices):
                    ready.append(part)
                    part, dev, built = [], 0, built + 1
                if time.perf_counter() - step_from > _YIELD_EVERY_S:
                    await asyncio.sleep(0)  # the producer sends the frames already handed over meanwhile
                    step_from = time.perf_counter()
            delay = (end_ns - time.time_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            yield ready.popleft()
