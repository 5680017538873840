"""Valid frames with hostile content, for fuzzing the analysis itself (not the decoder).

Every frame here encodes and decodes cleanly; what is odd is what it carries: an empty plate, a
plate zeroed under a standing athlete, force stored downward, a clipped or flat channel, full-scale
values, µV next to V, rates from 1 Hz to 10 kHz, channel lists and rates that change mid-stream,
duplicate and oddly named channels, frames out of order, repeated or skipped. A scenario is drawn
by hypothesis as a handful of choices plus a seed; the arrays come from numpy with that seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kinesync.bus.base import Message
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import Frame, SensorKind, encode

NS = 1_000_000_000
T0_NS = 1_760_000_000 * NS
F32_MAX = float(np.finfo(np.float32).max)

EMG_RATES = (1.0, 7.3, 100.0, 250.0, 500.0, 999.5, 1000.0, 1925.926, 2000.0, 2148.148, 10_000.0)
FORCE_RATES = (1.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 10_000.0)
BAR_RATES = (5.0, 100.0, 1000.0)
EMG_NAMES = ("R Rect", "L Rect", "VL", "glut_max", "Pec Maj", "pec", "Rectus Abdominis", "Tib Ant", "x", "R Rect")
FORCE_NAMES = ("fz", "fz_left", "fz_right", "fz_left", "fx", "Fz1", "fz_right_2", "mz")
BAR_NAMES = ("bar_z", "bar_az", "bar_x")
EMG_CONTENT = ("bursts", "bursts", "zeros", "full_scale", "clipped", "huge", "tiny", "gaps", "alternating", "dc")
FORCE_CONTENT = ("squats", "jumps", "unloaded", "zeroed", "downward", "full_scale", "zeros", "step_off", "gaps",
                 "negative_noise")
BAR_CONTENT = ("lift", "zeros", "full_scale", "gaps")
UNITS = (("V", 1.0), ("mV", 1e3), ("uV", 1e6))


@dataclass(frozen=True)
class DeviceSpec:
    kind: SensorKind
    rate_hz: float
    channels: tuple[str, ...]
    contents: tuple[str, ...]  # one per channel
    unit: tuple[str, float]
    frame_samples: int
    change_at: float | None = None  # share of the recording after which rate and channels change


@dataclass(frozen=True)
class Scenario:
    seed: int
    stations: tuple[tuple[DeviceSpec, ...], ...]
    duration_s: float
    disorder: str  # "none", "shuffle", "repeat", "skip", "backwards"
    batch_size: int


def _content(kind: SensorKind, what: str, n: int, rate: float, scale: float, rng: np.random.Generator,
             name: str = "") -> np.ndarray:
    t = np.arange(n) / rate
    if kind == SensorKind.EMG:
        noise = rng.normal(0.0, 5e-6, n)
        if what == "bursts":
            delay = 0.1 if "pec" in name.lower() else 0.0  # the chest fires after the legs
            env = np.exp(-0.5 * (((t - delay) % 2.0 - 1.0) / 0.12) ** 2)
            return (noise + rng.normal(0.0, 1.0, n) * 4e-4 * env) * scale
        if what == "zeros":
            return np.zeros(n)
        if what == "full_scale":
            return np.full(n, F32_MAX)
        if what == "clipped":
            return np.clip(np.sin(2 * np.pi * 80 * t) * 2e-3, -1e-3, 1e-3) * scale
        if what == "huge":
            return rng.normal(0.0, 1e30, n)
        if what == "tiny":
            return rng.normal(0.0, 1e-30, n)
        if what == "gaps":
            x = noise * scale
            x[n // 3 : n // 2] = np.nan
            return x
        if what == "alternating":
            return np.where(np.arange(n) % 2 == 0, F32_MAX, -F32_MAX)
        return np.full(n, 2040.0) + noise  # a raw ADC baseline, never zero-centred
    if kind == SensorKind.FORCE:
        bw = 700.0
        if what == "squats":
            return bw + 300.0 * np.sin(2 * np.pi * t / 2.5) ** 8 + rng.normal(0, 2, n)
        if what == "jumps":
            f = bw + rng.normal(0, 2, n)
            phase = t % 3.0
            f[(phase > 1.5) & (phase < 1.9)] = bw * 2.2
            f[(phase >= 1.9) & (phase < 2.3)] = rng.normal(0, 1, int(((phase >= 1.9) & (phase < 2.3)).sum()))
            return f
        if what == "unloaded":
            return rng.normal(0.0, 1.0, n)
        if what == "zeroed":
            f = rng.normal(0.0, 2.0, n)
            f[(t % 3.0 > 1.9) & (t % 3.0 < 2.3)] = -bw
            return f
        if what == "downward":
            return -(bw + 300.0 * np.sin(2 * np.pi * t / 2.5) ** 8) + rng.normal(0, 2, n)
        if what == "full_scale":
            return np.full(n, F32_MAX)
        if what == "zeros":
            return np.zeros(n)
        if what == "step_off":
            f = bw + rng.normal(0, 2, n)
            f[n // 2 :] = rng.normal(0, 1, n - n // 2)
            return f
        if what == "gaps":
            f = bw + rng.normal(0, 2, n)
            f[n // 4 : n // 3] = np.nan
            return f
        return rng.normal(-50.0, 30.0, n)
    if what == "lift":
        return 0.3 * np.sin(2 * np.pi * t / 3.0) ** 2 + rng.normal(0, 1e-3, n)
    if what == "zeros":
        return np.zeros(n)
    if what == "full_scale":
        return np.full(n, F32_MAX)
    x = rng.normal(0.0, 1e-3, n)
    x[n // 3 : n // 2] = np.nan
    return x


def device_frames(station: str, index: int, spec: DeviceSpec, duration_s: float,
                  rng: np.random.Generator) -> list[Frame]:
    """The device's whole recording as frames (in order), built from ``spec``."""
    frames: list[Frame] = []
    device = f"{station}-dev{index}"
    t_ns = T0_NS
    seq = 0
    layouts = [(spec.rate_hz, spec.channels, spec.contents, duration_s)]
    if spec.change_at is not None:
        first = duration_s * spec.change_at
        other_rate = spec.rate_hz * 2 if spec.rate_hz < 5000 else spec.rate_hz / 2
        layouts = [(spec.rate_hz, spec.channels, spec.contents, first),
                   (other_rate, spec.channels[::-1] + spec.channels[:1], spec.contents[::-1] + spec.contents[:1],
                    duration_s - first)]
    for rate, channels, contents, span_s in layouts:
        n = max(1, int(span_s * rate))
        data = np.vstack([_content(spec.kind, what, n, rate, spec.unit[1], rng, name)
                          for what, name in zip(contents, channels, strict=True)])
        data = np.clip(data, -F32_MAX, F32_MAX)
        nan_allowed = bool(np.isnan(data).any())
        step = max(1, spec.frame_samples)
        for first in range(0, n, step):
            block = data[:, first : first + step].astype(np.float32)
            frames.append(Frame(
                station=station, device=device, kind=spec.kind, channels=channels,
                units=(spec.unit[0],) if spec.kind == SensorKind.EMG else ("N",), rate_hz=rate,
                t0_ns=t_ns + round(first * NS / rate), seq=seq, samples=block, nan_allowed=nan_allowed,
            ))
            seq += 1
        t_ns += round(n * NS / rate)
    return frames


def _disorder(frames: list[Frame], how: str, rng: np.random.Generator) -> list[Frame]:
    if how == "shuffle":
        out = list(frames)
        for i in range(0, len(out), 4):
            chunk = out[i : i + 4]
            rng.shuffle(chunk)
            out[i : i + 4] = chunk
        return out
    if how == "repeat":
        return [f for f in frames for _ in range(2 if rng.random() < 0.2 else 1)]
    if how == "skip":
        return [f for f in frames if rng.random() > 0.1]
    if how == "backwards" and len(frames) > 4:
        k = len(frames) // 2
        return frames[:k] + frames[k - 3 :]
    return frames


def scenario_messages(sc: Scenario) -> Iterator[list[Message]]:
    """The scenario's frames, interleaved across stations and devices in time order, as batches."""
    rng = np.random.default_rng(sc.seed)
    per_device: list[list[Frame]] = []
    for s, devices in enumerate(sc.stations):
        for d, spec in enumerate(devices):
            frames = device_frames(f"st-{s}", d, spec, sc.duration_s, rng)
            per_device.append(_disorder(frames, sc.disorder, rng))
    merged = sorted(((f.t0_ns, i, k, f) for i, frames in enumerate(per_device) for k, f in enumerate(frames)),
                    key=lambda x: (x[0], x[1], x[2]))
    batch: list[Message] = []
    offset = 0
    for _, _, _, f in merged:
        batch.append(Message(topic=topic_for_kind(f.kind), partition=0, offset=offset, key=f.station.encode(),
                             value=encode(f), timestamp_ms=0))
        offset += 1
        if len(batch) >= sc.batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
