"""The ``sim`` source: simulated stations with known ground truth, as a stream of frames.

Every station has an EMG kit and a dual force plate; with ``bar=True`` also a linear position
transducer on the bar (kind VELOCITY, channel ``bar_z`` in m, ``AthleteSpec.bar_rate_hz``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np

from kinesync.codec.frame import Frame, SensorKind
from kinesync.models import SessionAssignment
from kinesync.sim.athlete import AthleteSpec, SimAthlete


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


def sim_stations(n: int, lags_ms: Sequence[float], seed: int = 7) -> list[SimStation]:
    """``n`` stations named station-01.. with true lags taken from ``lags_ms`` in turn."""
    out = []
    for i in range(n):
        spec = AthleteSpec(lag_ms=float(lags_ms[i % len(lags_ms)]), seed=seed * 1000 + i)
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

    def frames_until(self, t_s: float) -> list[Frame]:
        """Frames covering session time up to ``t_s`` (one frame; sample counts follow the rate)."""
        stop = int(np.floor(t_s * self.rate_hz + 1e-9))
        n = stop - self.next_index
        if n <= 0:
            return []
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
    ) -> None:
        self.stations = list(stations)
        self.frame_s = frame_s
        self.realtime = realtime
        self.origin_ns = time.time_ns() if origin_ns is None else origin_ns
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

    async def ticks(self, duration_s: float | None = None) -> AsyncIterator[list[Frame]]:
        """Yields the frames of each tick; runs until ``duration_s`` of session time (or forever)."""
        k = 0
        while duration_s is None or k * self.frame_s < duration_s:
            k += 1
            t_s = k * self.frame_s
            if self.realtime:
                delay = (self.origin_ns + t_s * 1e9 - time.time_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
            frames: list[Frame] = []
            for dev in self.devices:
                frames.extend(dev.frames_until(t_s))
            yield frames
            if not self.realtime:
                await asyncio.sleep(0)
