"""CSV exports (EMG, force plates), as a Recording.

The one CSV reader of ``kinesync analyze`` (``--emg``/``--force``), ``kinesync validate``,
``kinesync calibrate``, the reports and the gateway's ``csv`` source.

Real exports put lines before the column row (vendor notes, OpenSim ``endheader``), start with a
UTF-8 byte-order mark, and may use y as the vertical axis. The column row is the first row holding
the time column, else the last non-numeric row before the numbers; the delimiter is detected.
Empty cells, and rows shorter than the header (a channel that stopped), are missing samples (NaN).
The rate comes from the time column (or ``rate_hz`` in the mapping), which must be evenly spaced.
"""

from __future__ import annotations

import csv as _csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.codec.frame import SensorKind
from kinesync.sources.mapping import (
    ChannelMap,
    ChannelTable,
    DeviceMap,
    MappingInput,
    SourceMapping,
    build_recording,
    mapping_for,
    renamed,
    unique,
)
from kinesync.sources.recording import Recording, RecordingError
from kinesync.streaming.roles import emg_role

_FORCE_HINT = "fz, or fz_left and fz_right"


def _numeric(row: list[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    if not cells:
        return False
    try:
        for c in cells:
            float(c)
    except ValueError:
        return False
    return True


@dataclass
class CsvFile(ChannelTable):
    """A CSV export's columns by header name (the time column included), on the rate of its time column."""

    header: list[str] = field(default_factory=list)
    time_column: str | None = None  # as spelled in the file

    @property
    def time(self) -> np.ndarray | None:
        return None if self.time_column is None else self.columns[self.time_column]

    @classmethod
    def open(cls, path: str | Path, *, time_column: str = "time", rate_hz: float | None = None) -> CsvFile:
        p = Path(path)
        if not p.is_file():
            raise RecordingError(f"{p}: no such file")
        text = p.read_text(encoding="utf-8-sig")  # utf-8-sig drops a byte-order mark if there is one
        # The delimiter is the one the deepest of the first lines uses most (header lines may have none).
        sample = [line for line in text.splitlines()[:50] if line.strip()]
        delimiter = max(",;\t", key=lambda d: sample[-1].count(d) if sample else 0)
        rows = list(_csv.reader(io.StringIO(text), delimiter=delimiter))
        start = _header_row(rows, time_column)
        if start is None:
            raise RecordingError(f"{p}: no column-name row followed by numeric rows; is this a CSV export?")
        cells = [h.strip() for h in rows[start]]
        names = iter(unique([h for h in cells if h]))
        header = [next(names) if h else "" for h in cells]  # an unnamed column is read, then left out
        body = [r for r in rows[start + 1:] if any(cell.strip() for cell in r)]
        time_col = next((h for h in header if h and h.lower() == time_column.lower()), None)
        if rate_hz is None and time_col is None:
            raise RecordingError(
                f"{p}: no time column {time_column!r} in the header row ({', '.join(header[:10])}); name the "
                "column with the time in seconds so, or give rate_hz in a JSON mapping")
        values = _values(p, header, body)
        if rate_hz is None:
            rate, t0 = _rate_and_t0(p, values[:, header.index(time_col)])
        else:
            first = values[0, header.index(time_col)] if time_col is not None else 0.0
            rate, t0 = float(rate_hz), round(float(first) * 1e9) if np.isfinite(first) else 0
        columns = {h: values[:, j] for j, h in enumerate(header) if h}
        return cls(p, rate, columns, {}, t0, header=[h for h in header if h], time_column=time_col)


def _header_row(rows: list[list[str]], time_column: str) -> int | None:
    """The row with the time column, else the last non-numeric row before the first numeric one."""
    first_numeric = next((i for i, r in enumerate(rows) if _numeric(r)), None)
    if first_numeric is None:
        return None
    for i, r in enumerate(rows[:first_numeric]):
        if any(c.strip().lower() == time_column.lower() for c in r):
            return i
    return first_numeric - 1 if first_numeric > 0 else None


def _values(path: Path, header: list[str], rows: list[list[str]]) -> np.ndarray:
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = _ragged(path, header, rows)
    if values.ndim != 2 or values.shape[1] != len(header) or values.shape[0] < 2:
        raise RecordingError(f"{path}: expected {len(header)} numeric columns and at least 2 rows")
    return values


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
                "one rate per file is read (split it there, or resample)"
            )
        raise RecordingError(
            f"{path}: samples are not evenly spaced in time (at t = {t[i]:.3f} s the step is {dt[i] * 1e3:.4g} ms, "
            f"elsewhere {step * 1e3:.4g} ms)"
        )
    # Exports round the time column: a rate that close to whole hertz is that rate.
    if abs(rate - round(rate)) < 1e-6 * rate:
        rate = float(round(rate))
    return float(rate), round(float(t[0]) * 1e9)


def auto_mapping(rec: CsvFile, station: str, kind: SensorKind | None = None,
                 renames: dict[str, str] | None = None) -> SourceMapping:
    """Columns named by channel: an EMG file (``kind`` EMG) keeps every column, a force file only
    ``fz`` and ``fz_*`` (N, vertical up); a file of either (``kind`` None) gives both, EMG being the
    columns with an analysis role (``quad``, ``glute``, ``pec``). ``renames`` (old-format mapping
    files) rename columns first; ``-`` drops one."""
    renames = renames or {}
    named = [(h, renamed(renames, h, h)) for h in rec.header if h != rec.time_column]
    named = [(h, n) for h, n in named if n is not None]
    force = [(h, n) for h, n in named if n == "fz" or n.startswith("fz_")]
    emg = named if kind == SensorKind.EMG else [(h, n) for h, n in named if emg_role(n) is not None]
    devices = []
    for k, cols, unit in ((SensorKind.EMG, emg, "V"), (SensorKind.FORCE, force, "N")):
        if cols and kind in (None, k):
            name = k.name.lower()
            channels = [ChannelMap(source=h, name=n, unit=unit)
                        for (h, _), n in zip(cols, unique([n for _, n in cols]), strict=True)]
            devices.append(DeviceMap(station=station, device=f"{station}-{name}", kind=name, channels=channels))
    if not devices:
        need = {SensorKind.EMG: "quad, glute, pec", SensorKind.FORCE: _FORCE_HINT}.get(
            kind, f"quad, glute, pec (EMG) or {_FORCE_HINT}")
        raise RecordingError(f"{rec.path}: no usable columns; name them {need}, or map them with --map")
    return SourceMapping(devices=devices)


def read_csv(
    path: str | Path | None = None,
    mapping: MappingInput = None,
    *,
    emg: str | Path | None = None,
    force: str | Path | None = None,
    station: str = "replay",
) -> Recording:
    """One file of any devices (``path``), or an EMG file and/or a force file, as one station's recording.

    With a JSON mapping, ``path`` holds every device; else each device comes from the file of its
    kind. Without one the columns are named by channel (``auto_mapping``).
    """
    if path is not None and (emg is not None or force is not None):
        raise RecordingError("give one CSV file, or EMG and force files, not both")
    files = {None: path} if path is not None else {SensorKind.EMG: emg, SensorKind.FORCE: force}
    files = {k: Path(p) for k, p in files.items() if p is not None}
    if not files:
        raise RecordingError("give an EMG file, a force file, or both")
    given = mapping if isinstance(mapping, SourceMapping) else None
    time_column = given.time_column if given else "time"
    rate_hz = given.rate_hz if given else None
    tables = {k: CsvFile.open(p, time_column=time_column, rate_hz=rate_hz) for k, p in files.items()}
    source = ", ".join(str(p) for p in files.values())

    def auto(renames: dict[str, str]) -> SourceMapping:
        devices = [d for k, t in tables.items() for d in auto_mapping(t, station, k, renames).devices]
        return SourceMapping(devices=devices)

    def table_for(dev: DeviceMap) -> CsvFile:
        table = tables.get(None) or tables.get(dev.sensor_kind)
        if table is None:
            raise RecordingError(f"the mapping's {dev.kind} device {dev.device} needs the {dev.kind} CSV file "
                                 f"(--{dev.kind}); given: {source}")
        return table

    return build_recording(mapping_for(mapping, auto), table_for, source)
