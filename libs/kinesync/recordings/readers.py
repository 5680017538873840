"""Readers for recorded sessions: C3D (EMG analog channels and force platforms) and CSV exports.

Conventions on output: EMG channels are named by role where known (``quad``, ``glute``, ``pec``; see
``kinesync.streaming.roles``), force is vertical-up in newtons named ``fz``, ``fz_left``/``fz_right``
or ``fz_plate<N>``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from kinesync.codec.frame import SensorKind
from kinesync.recordings.model import Recording, Track

_FORCE_ROLES = ("fz", "fz_left", "fz_right")


class RecordingError(ValueError):
    """A recording that cannot be read; the message says what to change."""


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """Channel name → role, from JSON (``{"R Rect": "quad"}``) or ``name=role`` lines."""
    if path is None:
        return {}
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" not in line:
                raise RecordingError(f"{path}:{n}: expected 'channel=role', got {line!r}") from None
            name, role = (part.strip() for part in line.split("=", 1))
            data[name] = role
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RecordingError(f"{path}: a mapping is an object of channel name → role")
    return {str(k): v for k, v in data.items()}


def _safe(name: str) -> str:
    return name.replace(",", ";").strip() or "channel"


def read_c3d(path: str | Path, mapping: dict[str, str] | None = None, station: str = "replay") -> Recording:
    """EMG analog channels (unit V) and the vertical force of every force platform."""
    import ezc3d

    mapping = mapping or {}
    try:
        c = ezc3d.c3d(str(path), extract_forceplat_data=True)
    except Exception as exc:  # ezc3d raises plain RuntimeErrors for unreadable files
        raise RecordingError(f"{path}: not a readable C3D file ({exc})") from exc
    params = c["parameters"]["ANALOG"]
    labels = [str(label).strip() for label in params["LABELS"]["value"]]
    units = params.get("UNITS", {}).get("value", ["V"] * len(labels))
    rate = float(params["RATE"]["value"][0])
    analogs = np.asarray(c["data"]["analogs"][0], dtype=np.float64)  # (channels, samples)
    tracks: list[Track] = []
    emg_rows = [i for i, u in enumerate(units) if str(u).strip().upper() in ("V", "MV", "UV")]
    if emg_rows:
        names = tuple(_safe(mapping.get(labels[i], labels[i])) for i in emg_rows)
        tracks.append(Track(SensorKind.EMG, "c3d-emg", names, ("V",), rate,
                            analogs[emg_rows].astype(np.float32)))
    plates = c["data"].get("platform", [])
    if plates:
        fz = np.stack([np.asarray(p["force"][2], dtype=np.float64) for p in plates])
        names = tuple(_safe(mapping.get(f"Fz{i + 1}", f"fz_plate{i + 1}")) for i in range(len(plates)))
        # ezc3d returns the platform force acting on the body: vertical-up, N.
        force_rate = rate * fz.shape[1] / analogs.shape[1] if analogs.shape[1] else rate
        tracks.append(Track(SensorKind.FORCE, "c3d-force", names, ("N",), force_rate, fz.astype(np.float32)))
    if not tracks:
        raise RecordingError(f"{path}: no EMG channels (unit V) and no force platforms found")
    return Recording(station=station, tracks=tracks, source=str(path))


def _read_table(path: Path) -> tuple[list[str], np.ndarray]:
    """Columns and values of a CSV whose header row starts with ``time``; lines before it are skipped."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip("\ufeff").strip().lower().startswith("time")), None)
    if start is None:
        raise RecordingError(f"{path}: no header row starting with 'time' (first column: time in seconds)")
    delimiter = "\t" if "\t" in lines[start] and "," not in lines[start] else ","
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    rows = [r for r in reader if r and any(cell.strip() for cell in r)]
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise RecordingError(f"{path}: non-numeric value in the data rows ({exc})") from exc
    if values.ndim != 2 or values.shape[1] != len(header) or values.shape[0] < 2:
        raise RecordingError(f"{path}: expected {len(header)} numeric columns and at least 2 rows")
    return header, values


def _rate_and_t0(path: Path, t: np.ndarray) -> tuple[float, int]:
    dt = np.diff(t)
    if np.any(dt <= 0):
        raise RecordingError(f"{path}: the time column must increase")
    rate = (t.size - 1) / (t[-1] - t[0])
    if np.max(np.abs(dt - 1.0 / rate)) > 0.25 / rate:
        raise RecordingError(f"{path}: samples are not evenly spaced in time")
    return float(rate), round(float(t[0]) * 1e9)


def read_csv_pair(
    emg: str | Path | None = None,
    force: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    station: str = "replay",
) -> Recording:
    """EMG and/or force CSV files: first column ``time`` in seconds, other columns named by role.

    EMG roles: ``quad``, ``glute``, ``pec`` (other columns are kept and ignored by the analysis).
    Force: ``fz`` or ``fz_left`` and ``fz_right``, newtons, vertical up. ``mapping`` renames
    columns first (e.g. ``{"ground_force1_vy": "fz_left"}``); columns mapped to ``-`` are dropped.
    """
    mapping = mapping or {}
    tracks: list[Track] = []
    for kind, path in ((SensorKind.EMG, emg), (SensorKind.FORCE, force)):
        if path is None:
            continue
        path = Path(path)
        header, values = _read_table(path)
        rate, t0 = _rate_and_t0(path, values[:, 0])
        names, cols = [], []
        for j, name in enumerate(header[1:], 1):
            role = mapping.get(name, name)
            if role == "-":
                continue
            if kind == SensorKind.FORCE and role not in _FORCE_ROLES and not role.startswith("fz_"):
                continue
            names.append(_safe(role))
            cols.append(j)
        if not cols:
            need = "quad, glute, pec" if kind == SensorKind.EMG else "fz, or fz_left and fz_right"
            raise RecordingError(f"{path}: no usable columns; name them {need}, or map them with --map")
        unit = "V" if kind == SensorKind.EMG else "N"
        device = f"csv-{kind.name.lower()}"
        tracks.append(Track(kind, device, tuple(names), (unit,), rate, values[:, cols].T.astype(np.float32), t0))
    if not tracks:
        raise RecordingError("give an EMG file, a force file, or both")
    return Recording(station=station, tracks=tracks, source=", ".join(str(p) for p in (emg, force) if p))
