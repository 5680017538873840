"""The ``lsl`` source: Lab Streaming Layer inlets resolved by name or type, mapped to stations.

Each configured stream runs its own loop: resolve → open an inlet → pull chunks → frames. LSL
timestamps (the sender's ``local_clock``) become facility time through ``time_correction()``
(refreshed every ``correction_interval_s``) and this process's local-clock → epoch mapping
(``kinesync.clock.lsl``). A chunk becomes one frame stamped by its first sample. When a stream is
lost (the outlet went away), the inlet is dropped and the stream resolved again, so an outlet that
comes back, even under a new source id, is picked up; loss and recovery are counted.
Blocking liblsl calls run in threads (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from kinesync.clock.lsl import LslClockMap
from kinesync.codec.frame import Frame, SensorKind
from kinesync.runtime.extras import require
from kinesync.sources.mapping import ChannelMap

log = logging.getLogger(__name__)
_KINDS = {"emg": SensorKind.EMG, "force": SensorKind.FORCE, "velocity": SensorKind.VELOCITY}


class LslStreamMap(BaseModel):
    name: str | None = Field(None, description="resolve by the stream's name")
    type: str | None = Field(None, description="or by its type (e.g. EMG)")
    station: str = Field(min_length=1)
    device: str | None = Field(None, description="published device name; default the stream name")
    kind: Literal["emg", "force", "velocity"]
    channels: list[ChannelMap] = Field(
        default_factory=list, description="source = LSL channel label or index; empty: every channel by its label"
    )

    @model_validator(mode="after")
    def _one_selector(self) -> LslStreamMap:
        if not (self.name or self.type):
            raise ValueError("an LSL stream mapping needs a name or a type to resolve")
        return self


class LslMapping(BaseModel):
    streams: list[LslStreamMap] = Field(min_length=1)


def load_lsl_mapping(path: str | Path) -> LslMapping:
    p = Path(path)
    try:
        return LslMapping.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ValueError(f"LSL mapping {p} does not exist; set KINESYNC_GATEWAY_MAPPING") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"LSL mapping {p} is invalid: {exc}") from exc


@dataclass
class StreamState:
    """What the health endpoint shows per stream."""

    state: str = "resolving"  # resolving, streaming, lost
    frames: int = 0
    samples: int = 0
    losses: int = 0
    reconnects: int = 0
    correction_ms: float | None = None
    rate_hz: float | None = None
    last_error: str | None = None


def _channel_labels(info: object, n: int) -> list[str]:
    labels: list[str] = []
    try:
        ch = info.desc().child("channels").child("channel")  # type: ignore[attr-defined]
        while not ch.empty() and len(labels) < n:
            labels.append(ch.child_value("label") or f"ch{len(labels)}")
            ch = ch.next_sibling()
    except Exception:
        labels = []
    return labels if len(labels) == n else [f"ch{i}" for i in range(n)]


@dataclass
class _Selection:
    rows: list[int]
    names: tuple[str, ...]
    units: tuple[str, ...]
    scales: np.ndarray = field(repr=False)


def select_channels(spec: LslStreamMap, labels: list[str]) -> _Selection:
    if not spec.channels:
        return _Selection(list(range(len(labels))), tuple(labels), ("",), np.ones(len(labels), dtype=np.float64))
    rows, names, units, scales = [], [], [], []
    for ch in spec.channels:
        if ch.source in labels:
            rows.append(labels.index(ch.source))
        elif ch.source.isdigit() and int(ch.source) < len(labels):
            rows.append(int(ch.source))
        else:
            raise ValueError(f"LSL stream {spec.name or spec.type}: no channel {ch.source!r} (has {', '.join(labels)})")
        names.append(ch.name)
        units.append(ch.unit)
        scales.append(ch.scale)
    return _Selection(rows, tuple(names), tuple(units), np.asarray(scales, dtype=np.float64))


def _dispose(inlet: object) -> None:
    """Close and destroy an inlet off the event loop, without waiting: liblsl may block a while
    joining the receiver thread of a broken connection, and a stuck close must not stall reconnecting."""

    def close(holder: list[object]) -> None:
        try:
            holder[0].close_stream()  # type: ignore[attr-defined]
        except Exception:
            pass
        holder.clear()  # the last reference: liblsl destroys the inlet in this thread

    threading.Thread(target=close, args=([inlet],), name="lsl-close", daemon=True).start()


def regular_runs(stamps: np.ndarray, rate_hz: float, tolerance_s: float) -> list[tuple[int, int]]:
    """Split a chunk where its timestamps leave the regular grid started by the run's first sample.

    A frame has one ``t0`` and a fixed rate, so every sample in it must sit within ``tolerance_s`` of
    ``t0 + i / rate``; a chunk pulled across two pushes (or across a dropout) becomes two frames.
    """
    runs: list[tuple[int, int]] = []
    start, n = 0, len(stamps)
    while start < n:
        predicted = stamps[start] + np.arange(n - start) / rate_hz
        off = np.flatnonzero(np.abs(stamps[start:] - predicted) > tolerance_s)
        stop = start + int(off[0]) if off.size else n
        runs.append((start, stop))
        start = stop
    return runs


class LslSource:
    def __init__(
        self,
        mapping: LslMapping,
        *,
        resolve_timeout_s: float = 1.0,
        pull_timeout_s: float = 0.05,
        correction_interval_s: float = 5.0,
        max_chunk: int = 1024,
        max_jitter_s: float = 0.0005,
    ) -> None:
        self._pylsl = pylsl = require("pylsl", "the LSL source")  # only the lsl source needs liblsl
        self.mapping = mapping
        self.resolve_timeout_s = resolve_timeout_s
        self.pull_timeout_s = pull_timeout_s
        self.correction_interval_s = correction_interval_s
        self.max_chunk = max_chunk
        self.max_jitter_s = max_jitter_s
        self.clock = LslClockMap.measure(pylsl.local_clock, time.time_ns)
        self.states: dict[str, StreamState] = {self._key(s): StreamState() for s in mapping.streams}
        self.clocks: dict[str, LslClockMap] = {}

    @staticmethod
    def _key(spec: LslStreamMap) -> str:
        return f"{'name' if spec.name else 'type'}={spec.name or spec.type}"

    def health(self) -> dict[str, object]:
        return {k: vars(v).copy() for k, v in self.states.items()}

    async def frames(self, stop: asyncio.Event) -> AsyncIterator[Frame]:
        """Frames from every configured stream, in arrival order, until ``stop`` is set."""
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=1000)
        tasks = [asyncio.create_task(self._stream(spec, queue, stop)) for spec in self.mapping.streams]
        try:
            while not stop.is_set():
                try:
                    yield await asyncio.wait_for(queue.get(), 0.2)
                except TimeoutError:
                    failed = [t.exception() for t in tasks if t.done() and t.exception()]
                    if failed:
                        raise failed[0] from None  # a stream loop died on a configuration error
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _resolve(self, spec: LslStreamMap) -> object | None:
        prop, value = ("name", spec.name) if spec.name else ("type", spec.type)
        found = await asyncio.to_thread(self._pylsl.resolve_byprop, prop, value, 1, self.resolve_timeout_s)
        return found[0] if found else None

    async def _stream(self, spec: LslStreamMap, queue: asyncio.Queue[Frame], stop: asyncio.Event) -> None:
        pylsl = self._pylsl
        key = self._key(spec)
        st = self.states[key]
        seq = 0
        while not stop.is_set():
            info = await self._resolve(spec)
            if info is None:
                continue
            rate = float(info.nominal_srate())
            if rate <= 0:
                st.last_error = "irregular-rate streams cannot become frames; give the stream a nominal rate"
                log.error("LSL %s: %s", key, st.last_error)
                await asyncio.sleep(5)
                continue
            n_ch = int(info.channel_count())
            # recover=False: a lost stream raises LostError and is resolved again (maybe a new source id).
            inlet = pylsl.StreamInlet(info, max_buflen=30, recover=False, as_numpy=True)
            try:
                await asyncio.to_thread(inlet.open_stream, 5.0)
                full = await asyncio.to_thread(inlet.info, 5.0)
                sel = select_channels(spec, _channel_labels(full, n_ch))
                clock = LslClockMap(self.clock.local_to_epoch_ns)
                self.clocks[key] = clock
                clock.add_correction(await asyncio.to_thread(inlet.time_correction, 5.0))
                st.correction_ms = clock.correction_s * 1e3
                if st.losses:
                    st.reconnects += 1
                st.state, st.rate_hz, st.last_error = "streaming", rate, None
                device = spec.device or info.name()
                log.info("LSL %s: streaming %d channel(s) at %g Hz to %s/%s", key, n_ch, rate, spec.station, device)
                next_correction = time.monotonic() + self.correction_interval_s
                while not stop.is_set():
                    data, stamps = await asyncio.to_thread(
                        inlet.pull_chunk, self.pull_timeout_s, self.max_chunk, None, 1
                    )
                    if time.monotonic() >= next_correction:
                        clock.add_correction(await asyncio.to_thread(inlet.time_correction, 2.0))
                        st.correction_ms = clock.correction_s * 1e3
                        next_correction = time.monotonic() + self.correction_interval_s
                    if stamps is None or len(stamps) == 0:
                        continue
                    values = np.asarray(data, dtype=np.float64)[:, sel.rows].T
                    if np.any(sel.scales != 1.0):
                        values = values * sel.scales[:, None]
                    stamps = np.asarray(stamps, dtype=np.float64)
                    for a, b in regular_runs(stamps, rate, self.max_jitter_s):
                        frame = Frame(
                            station=spec.station,
                            device=device,
                            kind=_KINDS[spec.kind],
                            channels=sel.names,
                            units=sel.units,
                            rate_hz=rate,
                            t0_ns=clock.to_facility_ns(float(stamps[a])),
                            seq=seq,
                            samples=values[:, a:b].astype(np.float32),
                        )
                        seq += 1
                        st.frames += 1
                        st.samples += b - a
                        await queue.put(frame)
            except pylsl.util.LostError:
                st.state, st.losses = "lost", st.losses + 1
                log.warning("LSL %s: stream lost; resolving it again", key)
            except (pylsl.util.TimeoutError, ValueError) as exc:
                st.state, st.last_error = "lost", str(exc) or type(exc).__name__
                log.warning("LSL %s: %s; resolving again", key, st.last_error)
                await asyncio.sleep(0.5)
            finally:
                _dispose(inlet)
