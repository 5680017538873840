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

from kinesync.codec.frame import MAX_CHANNELS, SensorKind
from kinesync.recordings.model import Recording, Track
from kinesync.streaming.roles import emg_role

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


def _unique(names: list[str]) -> list[str]:
    """Repeated names numbered (``x``, ``x_2``, ...): channels of one device need distinct names."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


# EMG unit (lower case, micro sign spelt u) → factor to volts.
_EMG_UNITS = {"v": 1.0, "mv": 1e-3, "uv": 1e-6}
# Analog rows (0-based, in FORCE_PLATFORM:CHANNEL order) that hold vertical force, per plate TYPE
# (C3D user guide): types 1, 2 and 4 have Fz third; type 3 has four vertical sensors after four shears.
_PLATE_VERTICAL = {1: (2,), 2: (2,), 3: (4, 5, 6, 7), 4: (2,)}
_PLATE_WIDTH = {1: 6, 2: 6, 3: 8, 4: 6}
# A plate whose vertical force typically reads beyond this is loaded, and its sign shows which way
# the lab stores force, N (the analysis's flight threshold).
_LOADED_N = 20.0


def _strings(group: dict, name: str) -> list[str]:
    """A C3D string list; past 255 entries it continues in NAME2, NAME3, ..."""
    out: list[str] = []
    k = 1
    while (key := name if k == 1 else f"{name}{k}") in group:
        out.extend(str(v).strip() for v in group[key]["value"])
        k += 1
    return out


def _emg_factor(unit: str) -> float | None:
    return _EMG_UNITS.get(unit.strip().lower().replace("µ", "u").replace("μ", "u"))


def _vertical_up(fz: np.ndarray) -> np.ndarray:
    """Vertical force turned upward. Labs store it either way (force on the plate or on the body),
    and plate corners do not say which convention a lab followed, so the data decides: a plate
    that typically carries load has it positive; one mostly at zero (empty, or zeroed with the
    athlete on it) keeps the sign of its largest excursion, a landing or a push rather than a flight."""
    if fz.size == 0:
        return fz
    typical = float(np.median(fz))
    if abs(typical) > _LOADED_N:
        return -fz if typical < 0 else fz
    return -fz if abs(float(fz.min())) > abs(float(fz.max())) else fz


def _plates(path: str | Path, params: dict, analogs: np.ndarray) -> list[np.ndarray]:
    """Vertical force (N, up) of every force platform, from its analog channels."""
    fp = params.get("FORCE_PLATFORM")
    if not fp or "USED" not in fp:
        return []
    used = int(np.asarray(fp["USED"]["value"]).ravel()[0]) if np.size(fp["USED"]["value"]) else 0
    if used <= 0:
        return []
    types = np.asarray(fp.get("TYPE", {}).get("value", []), dtype=float).ravel()
    channel = np.asarray(fp.get("CHANNEL", {}).get("value", []), dtype=float)
    if channel.ndim == 1:
        channel = channel.reshape(-1, 1)
    if types.size < used or channel.ndim != 2 or channel.shape[1] < used:
        raise RecordingError(f"{path}: FORCE_PLATFORM:USED is {used} but TYPE or CHANNEL describe fewer plates")
    cal = np.asarray(fp.get("CAL_MATRIX", {}).get("value", []), dtype=float)
    out = []
    for k in range(used):
        ptype = int(types[k])
        if ptype not in _PLATE_VERTICAL:
            raise RecordingError(
                f"{path}: force plate {k + 1} is FORCE_PLATFORM:TYPE {ptype}, which analyze does not read "
                "(types 1, 2, 3 and 4 are supported)"
            )
        width = _PLATE_WIDTH[ptype]
        rows = [int(i) - 1 for i in channel[:width, k]] if channel.shape[0] >= width else []
        if len(rows) < width or not all(0 <= r < analogs.shape[0] for r in rows):
            raise RecordingError(
                f"{path}: force plate {k + 1} (TYPE {ptype}) needs {width} channels in FORCE_PLATFORM:CHANNEL "
                f"among the {analogs.shape[0]} analog channels"
            )
        if ptype == 4:
            # Type 4 stores raw signals; its 6×6 calibration matrix turns them into forces and moments.
            if cal.ndim < 2 or cal.shape[:2] != (6, 6) or (cal.ndim == 3 and cal.shape[2] <= k):
                raise RecordingError(f"{path}: force plate {k + 1} is TYPE 4 but has no 6×6 FORCE_PLATFORM:CAL_MATRIX")
            matrix = cal[:, :, k] if cal.ndim == 3 else cal
            fz = matrix[2] @ analogs[rows]
        else:
            fz = analogs[[rows[i] for i in _PLATE_VERTICAL[ptype]]].sum(axis=0)
        out.append(_vertical_up(fz))
    return out


def read_c3d(path: str | Path, mapping: dict[str, str] | None = None, station: str = "replay") -> Recording:
    """EMG analog channels (in V, mV or µV; published in V) and the vertical force of every force platform.

    Force platforms of TYPE 1–4 are read from their analog channels as the C3D user guide lays them
    out (type 4 through its calibration matrix) and published vertical-up in N. Analog labels that
    are empty get ``analog<N>``; repeated labels are numbered (``R Rect``, ``R Rect_2``).
    """
    import ezc3d

    mapping = mapping or {}
    try:
        c = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises plain RuntimeErrors for unreadable files
        raise RecordingError(f"{path}: not a readable C3D file ({exc})") from exc
    params = c["parameters"]
    analog = params.get("ANALOG", {})
    analogs = np.asarray(c["data"]["analogs"], dtype=np.float64)
    analogs = analogs[0] if analogs.ndim == 3 and analogs.shape[0] else np.zeros((0, 0))
    n_channels, n_samples = analogs.shape
    if n_channels == 0:
        raise RecordingError(f"{path}: no analog channels (EMG and force plates are analog channels in C3D)")
    if n_samples == 0:
        raise RecordingError(f"{path}: no samples (0 frames)")
    rate_values = np.asarray(analog.get("RATE", {}).get("value", []), dtype=float).ravel()
    rate = float(rate_values[0]) if rate_values.size else 0.0
    if not np.isfinite(rate) or rate <= 0:
        raise RecordingError(f"{path}: ANALOG:RATE is missing or not positive")
    labels = (_strings(analog, "LABELS") + [""] * n_channels)[:n_channels]
    labels = [label or f"analog{i + 1}" for i, label in enumerate(labels)]
    units = (_strings(analog, "UNITS") + [""] * n_channels)[:n_channels]
    plates = _plates(path, params, analogs)
    plate_rows = _plate_rows(params, len(plates))
    tracks: list[Track] = []
    emg_rows = [i for i, u in enumerate(units) if _emg_factor(u) is not None and i not in plate_rows]
    if emg_rows:
        names = _unique([_safe(mapping.get(labels[i], labels[i])) for i in emg_rows])
        if len(emg_rows) > MAX_CHANNELS:
            # A device carries at most MAX_CHANNELS; the analysis reads only the role channels.
            keep = [j for j, n in enumerate(names) if emg_role(n) is not None][:MAX_CHANNELS]
            emg_rows, names = [emg_rows[j] for j in keep], [names[j] for j in keep]
        if emg_rows:
            factors = np.array([_emg_factor(units[i]) for i in emg_rows])[:, np.newaxis]
            tracks.append(Track(SensorKind.EMG, "c3d-emg", tuple(names), ("V",), rate,
                                (analogs[emg_rows] * factors).astype(np.float32)))
    if plates:
        names = tuple(_unique([_safe(mapping.get(f"Fz{i + 1}", f"fz_plate{i + 1}")) for i in range(len(plates))]))
        tracks.append(Track(SensorKind.FORCE, "c3d-force", names, ("N",), rate, np.stack(plates).astype(np.float32)))
    if not tracks:
        raise RecordingError(f"{path}: no EMG channels (unit V, mV or µV) and no force platforms found")
    return Recording(station=station, tracks=tracks, source=str(path))


def _plate_rows(params: dict, used: int) -> set[int]:
    """Analog rows (0-based) that belong to the first ``used`` force plates: never EMG, whatever their unit."""
    if not used:
        return set()
    channel = np.asarray(params["FORCE_PLATFORM"]["CHANNEL"]["value"], dtype=float)
    channel = channel.reshape(-1, 1) if channel.ndim == 1 else channel
    return {int(i) - 1 for i in channel[:, :used].ravel() if i > 0}


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
    except ValueError:
        values = _ragged(path, header, rows)
    if values.ndim != 2 or values.shape[1] != len(header) or values.shape[0] < 2:
        raise RecordingError(f"{path}: expected {len(header)} numeric columns and at least 2 rows")
    return header, values


def _ragged(path: Path, header: list[str], rows: list[list[str]]) -> np.ndarray:
    """Rows with empty cells, or fewer cells than the header (a channel that stopped): missing is NaN,
    which the analysis treats as a gap in that channel."""
    values = np.full((len(rows), len(header)), np.nan)
    for i, row in enumerate(rows):
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            raise RecordingError(f"{path}: data row {i + 1} has {len(row)} cells, the header {len(header)}")
        for j, cell in enumerate(row[: len(header)]):
            cell = cell.strip()
            if cell:
                try:
                    values[i, j] = float(cell)
                except ValueError:
                    raise RecordingError(f"{path}: data row {i + 1}, column {header[j]!r}: {cell!r} is not a number"
                                         ) from None
    return values


def _rate_and_t0(path: Path, t: np.ndarray) -> tuple[float, int]:
    if not np.all(np.isfinite(t)):
        raise RecordingError(f"{path}: the time column has empty or non-finite cells")
    dt = np.diff(t)
    if np.any(dt <= 0):
        raise RecordingError(f"{path}: the time column must increase")
    rate = (t.size - 1) / (t[-1] - t[0])
    if np.max(np.abs(dt - 1.0 / rate)) > 0.25 / rate:
        # Where it goes wrong, against the file's opening spacing.
        step = float(np.median(dt[: max(1, min(100, dt.size // 4))]))
        off = np.abs(dt - step) > 0.25 * step
        i = int(np.argmax(off)) if off.any() else int(np.argmax(np.abs(dt - 1.0 / rate)))
        after = float(np.median(dt[i:]))
        if abs(after - step) > 0.25 * step:
            raise RecordingError(
                f"{path}: the sampling rate changes at t = {t[i]:.3f} s, from {1 / step:.6g} Hz to {1 / after:.6g} Hz; "
                "analyze needs one rate per file (split it there, or resample)"
            )
        raise RecordingError(
            f"{path}: samples are not evenly spaced in time (at t = {t[i]:.3f} s the step is {dt[i] * 1e3:.4g} ms, "
            f"elsewhere {step * 1e3:.4g} ms)"
        )
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
        samples = values[:, cols].T.astype(np.float32)
        tracks.append(Track(kind, device, tuple(_unique(names)), (unit,), rate, samples, t0))
    if not tracks:
        raise RecordingError("give an EMG file, a force file, or both")
    return Recording(station=station, tracks=tracks, source=", ".join(str(p) for p in (emg, force) if p))
