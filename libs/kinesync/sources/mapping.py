"""How a file's channels become a recording's devices: station, device, kind, channel names.

One mapping format, a small JSON document (see docs/gateway.md, "Mapping file")::

    {"devices": [
      {"station": "rack-1", "device": "rack-1-plates", "kind": "force",
       "channels": [{"source": "ground_force1_vy", "name": "fz_left", "unit": "N"}]}
    ]}

``source`` is the label in the file (C3D analog label, CSV column, LSL channel label or index);
``scale`` multiplies the stored values (``-1`` turns a downward-stored force into vertical-up).
Without a mapping the readers build one (``auto_mapping`` in ``kinesync.sources.c3d`` and
``kinesync.sources.csv``), with the channel names the live analysis reads.

The old ``name=role`` lines (and a flat JSON object of them) are converted on load: their renames
are applied to the automatic mapping of the file they are used with, and a warning says how to
write the JSON instead.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator

from kinesync.codec.frame import SensorKind
from kinesync.sources.recording import Recording, RecordingError, Track

log = logging.getLogger(__name__)

KindName = Literal["emg", "force", "velocity"]
_KINDS = {"emg": SensorKind.EMG, "force": SensorKind.FORCE, "velocity": SensorKind.VELOCITY}
_SHOWN_LABELS = 20  # an error lists this many of a file's labels; files with hundreds exist


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

    @property
    def stations(self) -> list[str]:
        return list(dict.fromkeys(d.station for d in self.devices))

    def per_station(self) -> list[SourceMapping]:
        """One mapping per station, in order: a recording is one station's devices."""
        return [self.model_copy(update={"devices": [d for d in self.devices if d.station == s]})
                for s in self.stations]


@dataclass(frozen=True)
class LegacyMapping:
    """A mapping file in the old format: ``name=role`` lines, or a flat JSON object of them.

    ``renames`` maps a label in the file (or the automatic channel name) to a channel name; ``-``
    drops the channel. It means something only against a file, so the readers convert it there.
    """

    path: Path
    renames: dict[str, str]


MappingInput = SourceMapping | LegacyMapping | None


def legacy_note(path: str | Path) -> str:
    """What a user of the old format reads: that it was converted, and how to write the new one."""
    return (
        f"{path} is an old 'name=role' mapping; it was converted on load. Write mappings as JSON instead: "
        '{"devices": [{"station": "...", "device": "...", "kind": "emg" or "force", '
        '"channels": [{"source": "<label in the file>", "name": "<channel name>"}]}]} '
        "(docs/gateway.md, \"Mapping file\"); `kinesync analyze ... --save-map FILE` writes the converted one"
    )


def load_mapping(path: str | Path) -> SourceMapping | LegacyMapping:
    """Read a mapping file; errors name the file and the field to fix. The old format is returned as
    a LegacyMapping, with a warning logged (``legacy_note``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RecordingError(f"mapping file {p} does not exist") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith(("{", "[")):
            raise RecordingError(f"mapping file {p} is invalid: {exc}") from exc
        data = None
    if isinstance(data, dict) and "devices" in data:
        try:
            return SourceMapping.model_validate(data)
        except ValidationError as exc:
            raise RecordingError(f"mapping file {p} is invalid: {exc}") from exc
    legacy = LegacyMapping(p, _legacy_renames(p, text, data))
    log.warning("%s", legacy_note(p))
    return legacy


def _legacy_renames(path: Path, text: str, data: object) -> dict[str, str]:
    if data is None:
        renames = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" not in line:
                raise RecordingError(f"{path}:{n}: expected a JSON mapping or 'channel=role' lines, got {line!r}")
            name, role = (part.strip() for part in line.split("=", 1))
            renames[name] = role
        return renames
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RecordingError(f'mapping file {path}: a mapping is a JSON object with "devices" (docs/gateway.md)')
    return {str(k): v for k, v in data.items()}


def mapping_for(given: MappingInput, auto: Callable[[dict[str, str]], SourceMapping]) -> SourceMapping:
    """The mapping to read a file with: the given one, or the file's automatic mapping with the
    renames of an old-format file applied (``auto`` takes those renames)."""
    if isinstance(given, SourceMapping):
        return given
    return auto(given.renames if given is not None else {})


def renamed(renames: dict[str, str], source: str, name: str) -> str | None:
    """A channel's name after old-format renames (by its label in the file, else by its automatic
    name); None when they drop it (``-``)."""
    new = renames.get(source, renames.get(name, name))
    return None if new == "-" else safe(new)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "ch"


def safe(name: str) -> str:
    """A channel name the frame format carries: non-empty, no ','."""
    return name.replace(",", ";").strip() or "channel"


def unique(names: list[str]) -> list[str]:
    """Keep names unique by numbering repeats (``x``, ``x_2``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


@dataclass
class ChannelTable:
    """A file's channels by label on one clock: what a mapping selects from."""

    path: Path
    rate_hz: float
    columns: dict[str, np.ndarray]
    units: dict[str, str]
    t0_ns: int = 0  # facility time of the first sample

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def apply_channels(
    columns: dict[str, np.ndarray], units: dict[str, str], dev: DeviceMap
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(channels, samples) float32 for ``dev`` from named float columns, and the units."""
    rows, out_units = [], []
    for ch in dev.channels:
        if ch.source not in columns:
            known = sorted(columns)
            shown = ", ".join(known[:_SHOWN_LABELS]) + (f", … ({len(known)} in all)" if len(known) > _SHOWN_LABELS
                                                         else "")
            raise RecordingError(
                f"device {dev.device}: channel {ch.source!r} is not in the recording (has: {shown or 'none'})")
        values = np.asarray(columns[ch.source], dtype=np.float64)
        # Scale in float64, round once to float32: what a float32-exact check expects.
        rows.append((values * ch.scale if ch.scale != 1.0 else values).astype(np.float32))
        out_units.append(ch.unit or units.get(ch.source, ""))
    return np.vstack(rows), tuple(out_units)


def build_recording(mapping: SourceMapping, table_for: Callable[[DeviceMap], ChannelTable], source: str) -> Recording:
    """The mapping's devices as tracks, each from the table ``table_for`` gives it."""
    stations = mapping.stations
    if len(stations) != 1:
        raise RecordingError(f"{source}: the mapping names {len(stations)} stations ({', '.join(stations)}); "
                             "a recording is one station's devices: give one mapping per station")
    tracks = []
    for dev in mapping.devices:
        table = table_for(dev)
        data, units = apply_channels(table.columns, table.units, dev)
        names = tuple(ch.name for ch in dev.channels)
        tracks.append(Track(dev.sensor_kind, dev.device, names, units, table.rate_hz, data, table.t0_ns))
    return Recording(stations[0], tracks, source=source, mapping=mapping)
