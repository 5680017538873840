"""C3D files (read with ezc3d): EMG analog channels and force platforms, as a Recording.

The one C3D reader of ``kinesync analyze``, ``kinesync validate``, the reports and the gateway's
``c3d`` source. Without a mapping the channels are named as the live analysis reads them
(``auto_mapping``): EMG by role and side (``R Rect`` → ``quad_right``), plate channels ``fx``,
``fz``, ``mx`` … with ``_left``/``_right`` for two plates.

Sign convention: force is the ground reaction force on the athlete, vertical-up, in newtons. C3D
plates record the force the subject applies to the plate, so a lab that stores Fz negative
(downward, like the shared gait file) gets the plate's forces and moments multiplied by -1
(``kinesync.sources.c3d_plates.vertical_sign`` decides per plate from the data). A mapping file
states ``scale`` explicitly instead. EMG in mV or µV is scaled to volts.

EMG and plates share one C3D analog clock, so their tracks share ``t0_ns`` and stay sample-aligned.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.codec.frame import MAX_CHANNELS
from kinesync.runtime.extras import require
from kinesync.sources.c3d_plates import Plate, calibrate, read_plates, vertical_sign
from kinesync.sources.mapping import (
    ChannelMap,
    ChannelTable,
    DeviceMap,
    MappingInput,
    SourceMapping,
    build_recording,
    mapping_for,
    renamed,
    slug,
    unique,
)
from kinesync.sources.recording import Recording, RecordingError
from kinesync.streaming.roles import emg_role

log = logging.getLogger(__name__)

# EMG unit (lower case, micro sign spelt u) → factor to volts.
_EMG_UNITS = {"v": 1.0, "mv": 1e-3, "uv": 1e-6}


def emg_factor(unit: str, label: str = "") -> float | None:
    """Volts per stored unit of an EMG channel; None for a channel that is not EMG. A channel
    without a unit counts as EMG in volts when its label says EMG."""
    factor = _EMG_UNITS.get(unit.strip().lower().replace("µ", "u").replace("μ", "u"))
    if factor is None and not unit.strip() and "emg" in label.lower():
        return 1.0
    return factor


@dataclass
class C3DFile(ChannelTable):
    """A C3D file's analog channels by label (in physical units; type-4 plates calibrated) and its plates."""

    labels: list[str] = field(default_factory=list)
    plates: list[Plate] = field(default_factory=list)

    def plate_labels(self, plate: Plate) -> list[str]:
        return [self.labels[r] for r in plate.rows]

    @classmethod
    def open(cls, path: str | Path) -> C3DFile:
        """Analog labels past 255 continue in ``LABELS2`` …; empty labels get ``analog<N>``; repeated
        labels are numbered (``R Rect``, ``R Rect_2``)."""
        ezc3d = require("ezc3d", "reading C3D files")  # here: only C3D files need the native extension

        p = Path(path)
        if not p.is_file():
            raise RecordingError(f"{p}: no such file")
        try:
            c = ezc3d.c3d(str(p))
        except Exception as exc:  # ezc3d raises plain RuntimeErrors for unreadable files
            raise RecordingError(f"{p}: not a readable C3D file ({exc})") from exc
        params = c["parameters"]
        analog = params.get("ANALOG", {})
        analogs = np.asarray(c["data"]["analogs"], dtype=np.float64)
        analogs = analogs[0].copy() if analogs.ndim == 3 and analogs.shape[0] else np.zeros((0, 0))
        n_channels, n_samples = analogs.shape
        if n_channels == 0:
            raise RecordingError(f"{p}: no analog channels (EMG and force plates are analog channels in C3D)")
        if n_samples == 0:
            raise RecordingError(f"{p}: no samples (0 frames)")
        rate_values = np.asarray(analog.get("RATE", {}).get("value", []), dtype=float).ravel()
        rate = float(rate_values[0]) if rate_values.size else 0.0
        if not np.isfinite(rate) or rate <= 0:
            raise RecordingError(f"{p}: ANALOG:RATE is missing or not positive")
        labels = (_strings(analog, "LABELS") + [""] * n_channels)[:n_channels]
        labels = unique([label or f"analog{i + 1}" for i, label in enumerate(labels)])
        units = (_strings(analog, "UNITS") + [""] * n_channels)[:n_channels]
        plates = read_plates(p, params, n_channels)
        calibrate(p, params, plates, analogs, units)
        columns = {lab: analogs[i] for i, lab in enumerate(labels)}
        return cls(p, rate, columns, dict(zip(labels, units, strict=True)), labels=labels, plates=plates)


def _strings(group: dict, name: str) -> list[str]:
    """A C3D string list; past 255 entries it continues in NAME2, NAME3, ..."""
    out: list[str] = []
    k = 1
    while (key := name if k == 1 else f"{name}{k}") in group:
        out.extend(str(v).strip() for v in group[key]["value"])
        k += 1
    return out


def _side(label: str) -> str | None:
    low = label.lower()
    if re.match(r"^(l|left)[\s_.-]", low) or re.search(r"[\s_.-](l|left)$", low) or "left" in low:
        return "left"
    if re.match(r"^(r|right)[\s_.-]", low) or re.search(r"[\s_.-](r|right)$", low) or "right" in low:
        return "right"
    return None


def emg_channel_name(label: str) -> str:
    """``R Rect`` → ``quad_right``: the analysis role where known, else the muscle, plus the side."""
    side = _side(label)
    muscle = re.sub(r"^(l|r|left|right)[\s_.-]+|[\s_.-]+(l|r|left|right)$", "", label.strip(), flags=re.I)
    base = emg_role(muscle) or slug(muscle.replace("emg", ""))
    return f"{base}_{side}" if side else base


def _emg_device(rec: C3DFile, station: str, renames: dict[str, str]) -> DeviceMap | None:
    plate_rows = {r for p in rec.plates for r in p.rows}
    labels, factors = [], []
    for i, lab in enumerate(rec.labels):
        factor = emg_factor(rec.units[lab], lab)
        if factor is not None and i not in plate_rows:
            labels.append(lab)
            factors.append(factor)
    named = [(lab, f, renamed(renames, lab, emg_channel_name(lab))) for lab, f in zip(labels, factors, strict=True)]
    named = [(lab, f, n) for lab, f, n in named if n is not None]
    names = unique([n for _, _, n in named])
    channels = [ChannelMap(source=lab, name=n, unit="V", scale=f)
                for (lab, f, _), n in zip(named, names, strict=True)]
    if len(channels) > MAX_CHANNELS:
        # A device carries at most MAX_CHANNELS; the analysis reads only the role channels.
        channels = [ch for ch in channels if emg_role(ch.name) is not None][:MAX_CHANNELS]
    return DeviceMap(station=station, device=f"{station}-emg", kind="emg", channels=channels) if channels else None


def _plate_suffix(number: int, n_plates: int) -> str:
    # Dual plates: plate 1 left, plate 2 right (what asymmetry reads); one plate has no suffix; more are numbered.
    if n_plates == 1:
        return ""
    if n_plates == 2:
        return "_left" if number == 1 else "_right"
    return f"_{number}"


def _plate_channels(rec: C3DFile, plate: Plate, renames: dict[str, str]) -> list[ChannelMap]:
    suffix = _plate_suffix(plate.number, len(rec.plates))
    labels = rec.plate_labels(plate)
    vertical = [rec.columns[lab] for lab, n in zip(labels, plate.layout, strict=True) if n.startswith("fz")]
    sign = vertical_sign(np.sum(vertical, axis=0))
    log.info("%s plate %d: vertical force stored %s; published vertical-up", rec.path, plate.number,
             "downward (sign flipped)" if sign < 0 else "upward")
    out = []
    for lab, n in zip(labels, plate.layout, strict=True):
        # type-3 corner sensors fz_1..4 become fz_left_1..4: force_rows sums them per side.
        name = renamed(renames, lab, f"fz{suffix}_{n[3:]}" if n.startswith("fz_") else f"{n}{suffix}")
        if name is None:
            continue
        # Forces and moments flip together (action on the plate → reaction on the athlete);
        # a centre of pressure is a position and keeps its sign.
        scale = 1.0 if n.startswith("cop") else sign
        out.append(ChannelMap(source=lab, name=name, unit=rec.units[lab], scale=scale))
    return out


def auto_mapping(rec: C3DFile, station: str, renames: dict[str, str] | None = None) -> SourceMapping:
    """EMG = analog channels in V, mV or µV that belong to no plate; force = every plate's channels.

    ``renames`` (old-format mapping files) rename channels by label or automatic name; ``-`` drops one.
    """
    renames = renames or {}
    devices: list[DeviceMap] = []
    emg = _emg_device(rec, station, renames)
    if emg is not None:
        devices.append(emg)
    force = [ch for plate in rec.plates for ch in _plate_channels(rec, plate, renames)]
    if len(force) > MAX_CHANNELS:
        force = [ch for ch in force if ch.name.startswith("fz")][:MAX_CHANNELS]
    if force:
        devices.append(DeviceMap(station=station, device=f"{station}-force", kind="force", channels=force))
    if not devices:
        raise RecordingError(f"{rec.path}: no EMG channels (unit V, mV or µV) and no force platforms found; "
                             "give a mapping file")
    return SourceMapping(devices=devices)


def read_c3d(path: str | Path, mapping: MappingInput = None, station: str = "replay") -> Recording:
    """The file as one station's recording: through ``mapping``, or the automatic mapping (its
    channels and plates for ``station``)."""
    rec = C3DFile.open(path)
    chosen = mapping_for(mapping, lambda renames: auto_mapping(rec, station, renames))
    return build_recording(chosen, lambda _dev: rec, str(path))
