"""The ``csv`` source: force-plate or EMG exports as CSV, configured by a small mapping.

Real exports put header lines before the column row (OpenSim ``.mot``-style ``endheader``),
start with a UTF-8 byte-order mark, and may use y as the vertical axis; the mapping says which
column becomes which channel (``ground_force1_vy`` → ``fz_left``). The column row is the last
non-numeric line before the first numeric one.
"""

from __future__ import annotations

import csv as _csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.sources.mapping import SourceMapping, apply_channels
from kinesync.sources.replay import RecordedDevice


@dataclass
class CsvRecording:
    path: Path
    rate_hz: float
    columns: dict[str, np.ndarray] = field(repr=False)


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


def read_csv(path: str | Path, *, time_column: str = "time", rate_hz: float | None = None) -> CsvRecording:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"CSV file {p} does not exist; set KINESYNC_GATEWAY_FILE to the export")
    text = p.read_text(encoding="utf-8-sig")  # utf-8-sig drops a byte-order mark if there is one
    # The delimiter is the one the deepest of the first lines uses most (header lines may have none).
    sample = text.splitlines()[:50]
    delimiter = max(",;\t", key=lambda d: sample[-1].count(d) if sample else 0)
    rows = list(_csv.reader(io.StringIO(text), delimiter=delimiter))
    start = next((i for i, r in enumerate(rows) if _numeric(r)), None)
    if start is None or start == 0:
        raise ValueError(f"{p}: no column-name row followed by numeric rows; is this a CSV export?")
    header = [h.strip() for h in rows[start - 1]]
    body = [r for r in rows[start:] if _numeric(r)]
    width = len(header)
    try:
        data = np.array([[float(c) if c.strip() else np.nan for c in r[:width]] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{p}: a data row is not numeric ({exc})") from exc
    if data.ndim != 2 or data.shape[1] != width:
        raise ValueError(f"{p}: data rows have a different number of columns than the header ({width})")
    columns = {h: data[:, i] for i, h in enumerate(header) if h}
    if rate_hz is None:
        if time_column not in columns:
            raise ValueError(f"{p}: no time column {time_column!r} and no rate_hz in the mapping; give one")
        dt = np.diff(columns[time_column])
        step = float(np.median(dt))
        if step <= 0 or np.max(np.abs(dt - step)) > 0.01 * step:
            raise ValueError(f"{p}: the time column is not evenly sampled; give rate_hz in the mapping")
        rate_hz = 1.0 / step
        # Exports round the time column: snap to a whole-Hz rate when it is that close.
        if abs(rate_hz - round(rate_hz)) < 1e-6 * rate_hz:
            rate_hz = float(round(rate_hz))
    return CsvRecording(p, float(rate_hz), columns)


def csv_devices(path: str | Path, mapping: SourceMapping) -> list[RecordedDevice]:
    rec = read_csv(path, time_column=mapping.time_column, rate_hz=mapping.rate_hz)
    out = []
    for dev in mapping.devices:
        data, units = apply_channels(rec.columns, {}, dev)
        names = tuple(ch.name for ch in dev.channels)
        out.append(RecordedDevice(dev.station, dev.device, dev.sensor_kind, names, units, rec.rate_hz, data))
    return out
