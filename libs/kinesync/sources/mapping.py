"""How a recording's channels become published devices: station, device, kind, channel names.

A mapping is a small JSON document (see docs/gateway.md)::

    {"devices": [
      {"station": "rack-1", "device": "rack-1-plates", "kind": "force",
       "channels": [{"source": "ground_force1_vy", "name": "fz_left", "unit": "N"}]}
    ]}

``source`` is the label in the file (C3D analog label, CSV column, LSL channel label or index);
``scale`` multiplies the stored values (``-1`` turns a downward-stored force into vertical-up).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator

from kinesync.codec.frame import SensorKind

KindName = Literal["emg", "force", "velocity"]
_KINDS = {"emg": SensorKind.EMG, "force": SensorKind.FORCE, "velocity": SensorKind.VELOCITY}


class ChannelMap(BaseModel):
    source: str = Field(description="label of the channel in the recording (or LSL channel index)")
    name: str = Field(description="published channel name, e.g. quad_right or fz_left")
    unit: str = Field("", description="published unit; empty: the recording's unit")
    scale: float = Field(1.0, description="multiplier applied before publishing (-1 flips a sign)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "," in v:
            raise ValueError("channel names must be non-empty and contain no ','")
        return v


class DeviceMap(BaseModel):
    station: str = Field(min_length=1)
    device: str = Field(min_length=1)
    kind: KindName
    channels: list[ChannelMap] = Field(min_length=1)

    @property
    def sensor_kind(self) -> SensorKind:
        return _KINDS[self.kind]


class SourceMapping(BaseModel):
    devices: list[DeviceMap] = Field(min_length=1)
    time_column: str = Field("time", description="CSV only: the column with the time in seconds")
    rate_hz: float | None = Field(None, gt=0, description="CSV only: sample rate; default from the time column")


def load_mapping(path: str | Path) -> SourceMapping:
    """Read a mapping file; errors name the file and the field to fix."""
    p = Path(path)
    try:
        return SourceMapping.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ValueError(f"mapping file {p} does not exist; set KINESYNC_GATEWAY_MAPPING to a JSON mapping") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"mapping file {p} is invalid: {exc}") from exc


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "ch"


def unique(names: list[str]) -> list[str]:
    """Keep names unique by numbering repeats (``x``, ``x_2``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def apply_channels(
    columns: dict[str, np.ndarray], units: dict[str, str], dev: DeviceMap
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(channels, samples) float32 for ``dev`` from named float columns, and the units."""
    rows, out_units = [], []
    for ch in dev.channels:
        if ch.source not in columns:
            known = ", ".join(sorted(columns)) or "none"
            raise ValueError(f"device {dev.device}: channel {ch.source!r} is not in the recording (has: {known})")
        values = np.asarray(columns[ch.source], dtype=np.float64)
        # Scale in float64, round once to float32: what a float32-exact check expects.
        rows.append((values * ch.scale if ch.scale != 1.0 else values).astype(np.float32))
        out_units.append(ch.unit or units.get(ch.source, ""))
    return np.vstack(rows), tuple(out_units)
