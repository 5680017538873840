"""Simple Text Format files (the BioSPPy and OpenSignals examples), as a Recording.

``#`` header lines (``# Sampling Rate (Hz):= 1000.00``, ``# Labels:= EMG``), then one row per sample
and one column per channel, in the device's units (often raw ADC counts: no unit is stated). The
channels are EMG; a file names no muscle, so none gets an analysis role by itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kinesync.codec.frame import SensorKind
from kinesync.sources.c3d import emg_channel_name
from kinesync.sources.mapping import safe, unique
from kinesync.sources.recording import Recording, RecordingError, Track


def _header(line: str) -> tuple[str, str] | None:
    key, sep, value = line.lstrip("#").partition(":=")
    return (key.strip().lower(), value.strip()) if sep else None


def read_text(path: str | Path, station: str = "replay") -> Recording:
    p = Path(path)
    if not p.is_file():
        raise RecordingError(f"{p}: no such file")
    rate: float | None = None
    labels: list[str] = []
    rows: list[list[str]] = []
    for line in p.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if line.startswith("#"):
            field = _header(line)
            if field is not None and field[0].startswith("sampling rate"):
                rate = float(field[1])
            elif field is not None and field[0] == "labels":
                labels = field[1].replace(",", "\t").split()
        elif line:
            rows.append(line.split())
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise RecordingError(f"{p}: no '# Sampling Rate (Hz):= <rate>' header line")
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        raise RecordingError(f"{p}: every data row must hold the same number of numbers") from None
    if values.ndim != 2 or values.shape[0] < 2:
        raise RecordingError(f"{p}: expected at least 2 rows of samples")
    n = values.shape[1]
    labels = (labels + [f"emg{i + 1}" for i in range(len(labels), n)])[:n]
    names = tuple(unique([safe(emg_channel_name(label)) for label in labels]))
    track = Track(SensorKind.EMG, f"{station}-emg", names, ("",), rate, values.T.astype(np.float32))
    return Recording(station, [track], source=str(p))
