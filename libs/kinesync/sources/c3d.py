"""The ``c3d`` source: EMG analog channels and force platforms from a C3D file (read with ezc3d).

Sign convention: force is published as the ground reaction force on the athlete, vertical-up, in
newtons. C3D plates record the force the subject applies to the plate, so a lab that stores Fz
negative (downward, like the shared gait file) gets its force channels multiplied by -1. The
auto-mapping decides the sign per plate from the data: the vertical channel's dominant direction
is downward → flip. A mapping file states ``scale`` explicitly instead.

EMG and plates on one C3D analog clock share ``t0_ns`` in replay, so they stay sample-aligned.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.sources.mapping import ChannelMap, DeviceMap, SourceMapping, apply_channels, slug, unique
from kinesync.sources.replay import RecordedDevice
from kinesync.streaming.roles import emg_role

log = logging.getLogger(__name__)

EMG_UNITS = {"v", "mv", "uv", "µv", "μv"}
# Analog channel order per FORCE_PLATFORM:TYPE (C3D user guide): which published name each channel gets.
_PLATE_LAYOUT: dict[int, tuple[str, ...]] = {
    1: ("fx", "fy", "fz", "cop_x", "cop_y", "mz"),
    2: ("fx", "fy", "fz", "mx", "my", "mz"),
    4: ("fx", "fy", "fz", "mx", "my", "mz"),
    3: ("fx12", "fx34", "fy14", "fy23", "fz_1", "fz_2", "fz_3", "fz_4"),
}


@dataclass
class Plate:
    number: int
    type: int
    labels: list[str]  # analog labels in the order of _PLATE_LAYOUT[type]


@dataclass
class C3DRecording:
    path: Path
    rate_hz: float
    labels: list[str]
    units: dict[str, str]
    columns: dict[str, np.ndarray] = field(repr=False)
    plates: list[Plate]

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def read_c3d(path: str | Path) -> C3DRecording:
    """Analog channels (already scaled to physical units by ezc3d) and the force-platform layout."""
    import ezc3d  # imported here: only the c3d source needs the native extension

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"C3D file {p} does not exist; set KINESYNC_GATEWAY_FILE to a .c3d recording")
    c = ezc3d.c3d(str(p))
    params = c["parameters"]
    analog = params["ANALOG"]
    labels = [str(s).strip() for s in analog["LABELS"]["value"]]
    rate = float(np.asarray(analog["RATE"]["value"]).ravel()[0])
    unit_list = [str(u).strip() for u in analog.get("UNITS", {}).get("value", [])] + [""] * len(labels)
    data = np.asarray(c["data"]["analogs"], dtype=np.float64)[0]  # (channels, samples)
    if data.shape[1] == 0:
        raise ValueError(f"C3D file {p} holds no samples (0 frames)")
    labels = unique(labels)
    columns = {lab: data[i] for i, lab in enumerate(labels)}
    units = {lab: unit_list[i] for i, lab in enumerate(labels)}
    plates: list[Plate] = []
    fp = params.get("FORCE_PLATFORM")
    if fp is not None and "USED" in fp:
        used = int(np.asarray(fp["USED"]["value"]).ravel()[0])
        types = np.asarray(fp["TYPE"]["value"]).ravel()
        channel = np.asarray(fp["CHANNEL"]["value"])  # (channels per plate, plates), 1-based
        for k in range(used):
            ptype = int(types[k])
            layout = _PLATE_LAYOUT.get(ptype)
            if layout is None:
                log.warning("force plate %d has TYPE %d, which this reader does not map; skipped", k + 1, ptype)
                continue
            idx = [int(i) - 1 for i in channel[: len(layout), k]]
            plates.append(Plate(k + 1, ptype, [labels[i] for i in idx]))
    return C3DRecording(p, rate, labels, units, columns, plates)


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


def auto_mapping(rec: C3DRecording, station: str) -> SourceMapping:
    """EMG = analog channels in volts that belong to no plate; force = every plate's channels."""
    devices: list[DeviceMap] = []
    plate_labels = {lab for p in rec.plates for lab in p.labels}
    emg = [
        lab
        for lab in rec.labels
        if lab not in plate_labels and (rec.units.get(lab, "").lower() in EMG_UNITS or "emg" in lab.lower())
    ]
    if emg:
        names = unique([emg_channel_name(lab) for lab in emg])
        devices.append(
            DeviceMap(
                station=station,
                device=f"{station}-emg",
                kind="emg",
                channels=[ChannelMap(source=lab, name=n) for lab, n in zip(emg, names, strict=True)],
            )
        )
    force: list[ChannelMap] = []
    for plate in rec.plates:
        layout = _PLATE_LAYOUT[plate.type]
        if len(rec.plates) == 1:
            suffix = ""
        elif len(rec.plates) == 2:
            suffix = "_left" if plate.number == 1 else "_right"  # dual plates: plate 1 left, plate 2 right
        else:
            suffix = f"_{plate.number}"
        vertical = [rec.columns[lab] for lab, n in zip(plate.labels, layout, strict=True) if n.startswith("fz")]
        total = np.sum(vertical, axis=0)
        sign = -1.0 if abs(float(total.min())) > abs(float(total.max())) else 1.0
        for lab, n in zip(plate.labels, layout, strict=True):
            unit = rec.units.get(lab, "")
            # Forces and moments flip together (action on the plate → reaction on the athlete);
            # a centre of pressure is a position and keeps its sign.
            flips = not n.startswith("cop")
            if n.startswith("fz_"):  # type-3 corner sensors: fz_left_1..4
                name = f"fz{suffix}_{n[3:]}"
            else:
                name = f"{n}{suffix}"
            force.append(ChannelMap(source=lab, name=name, unit=unit, scale=sign if flips else 1.0))
        log.info("plate %d: vertical force stored %s; published vertical-up", plate.number,
                 "downward (sign flipped)" if sign < 0 else "upward")
    if force:
        devices.append(DeviceMap(station=station, device=f"{station}-force", kind="force", channels=force))
    if not devices:
        raise ValueError(f"{rec.path}: no EMG channels (volts) and no force platforms found; give a mapping file")
    return SourceMapping(devices=devices)


def c3d_devices(path: str | Path, station: str, mapping: SourceMapping | None = None) -> list[RecordedDevice]:
    """Devices ready for ReplaySource; without ``mapping`` the channels are auto-detected."""
    rec = read_c3d(path)
    mapping = mapping or auto_mapping(rec, station)
    out = []
    for dev in mapping.devices:
        data, units = apply_channels(rec.columns, rec.units, dev)
        names = tuple(ch.name for ch in dev.channels)
        out.append(RecordedDevice(dev.station, dev.device, dev.sensor_kind, names, units, rec.rate_hz, data))
    return out
