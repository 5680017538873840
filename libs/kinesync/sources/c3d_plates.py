"""Force platforms of a C3D file: which analog channels each plate has, and which way its force points.

Layouts per ``FORCE_PLATFORM:TYPE`` follow the C3D user guide: types 1, 2 and 4 have six channels
with Fz third (type 4 raw, through its 6×6 ``CAL_MATRIX``), type 3 four shears then four vertical
sensors. Other types are refused with the plate and type named: reading their channels as anything
else (EMG, say) would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinesync.sources.recording import RecordingError

# Published channel names per type, in FORCE_PLATFORM:CHANNEL order.
PLATE_LAYOUT: dict[int, tuple[str, ...]] = {
    1: ("fx", "fy", "fz", "cop_x", "cop_y", "mz"),
    2: ("fx", "fy", "fz", "mx", "my", "mz"),
    3: ("fx12", "fx34", "fy14", "fy23", "fz_1", "fz_2", "fz_3", "fz_4"),
    4: ("fx", "fy", "fz", "mx", "my", "mz"),
}
# A plate whose vertical force typically reads beyond this is loaded, and its sign shows which way
# the lab stores force, N (the analysis's flight threshold).
LOADED_N = 20.0


@dataclass
class Plate:
    number: int
    type: int
    rows: list[int]  # analog rows (0-based) in the order of PLATE_LAYOUT[type]

    @property
    def layout(self) -> tuple[str, ...]:
        return PLATE_LAYOUT[self.type]


def read_plates(path: object, params: dict, n_channels: int) -> list[Plate]:
    """The plates ``FORCE_PLATFORM`` describes, checked against the ``n_channels`` analog channels."""
    fp = params.get("FORCE_PLATFORM")
    if not fp or "USED" not in fp or not np.size(fp["USED"]["value"]):
        return []
    used = int(np.asarray(fp["USED"]["value"]).ravel()[0])
    if used <= 0:
        return []
    types = np.asarray(fp.get("TYPE", {}).get("value", []), dtype=float).ravel()
    channel = np.asarray(fp.get("CHANNEL", {}).get("value", []), dtype=float)
    if channel.ndim == 1:
        channel = channel.reshape(-1, 1)
    if types.size < used or channel.ndim != 2 or channel.shape[1] < used:
        raise RecordingError(f"{path}: FORCE_PLATFORM:USED is {used} but TYPE or CHANNEL describe fewer plates")
    plates = []
    for k in range(used):
        ptype = int(types[k])
        if ptype not in PLATE_LAYOUT:
            raise RecordingError(
                f"{path}: force plate {k + 1} is FORCE_PLATFORM:TYPE {ptype}, which is not read "
                "(types 1, 2, 3 and 4 are supported)"
            )
        width = len(PLATE_LAYOUT[ptype])
        rows = [int(i) - 1 for i in channel[:width, k]] if channel.shape[0] >= width else []
        if len(rows) < width or not all(0 <= r < n_channels for r in rows):
            raise RecordingError(
                f"{path}: force plate {k + 1} (TYPE {ptype}) needs {width} channels in FORCE_PLATFORM:CHANNEL "
                f"among the {n_channels} analog channels"
            )
        plates.append(Plate(k + 1, ptype, rows))
    return plates


def calibrate(path: object, params: dict, plates: list[Plate], analogs: np.ndarray, units: list[str]) -> None:
    """Type-4 plates store raw signals: their rows become forces (N) and moments through the
    calibration matrix, in place, so every plate's channels read as the layout names them."""
    cal = np.asarray(params["FORCE_PLATFORM"].get("CAL_MATRIX", {}).get("value", []), dtype=float)
    for plate in plates:
        if plate.type != 4:
            continue
        k = plate.number - 1
        if cal.ndim < 2 or cal.shape[:2] != (6, 6) or (cal.ndim == 3 and cal.shape[2] <= k):
            raise RecordingError(f"{path}: force plate {plate.number} is TYPE 4 but has no 6×6 "
                                 "FORCE_PLATFORM:CAL_MATRIX")
        matrix = cal[:, :, k] if cal.ndim == 3 else cal
        analogs[plate.rows] = matrix @ analogs[plate.rows]
        for i, row in enumerate(plate.rows):
            # The matrix gives newtons; the moments' unit is the lab's (N·m or N·mm), not in the file.
            units[row] = "N" if i < 3 else ""


def vertical_sign(fz: np.ndarray) -> float:
    """+1 or -1: what turns the plate's vertical force upward (the ground reaction on the athlete).

    Labs store it either way (force on the plate or on the body), and plate corners do not say which
    convention a lab followed, so the data decides: a plate that typically carries load has it
    positive; one mostly at zero (empty, or zeroed with the athlete on it) keeps the sign of its
    largest excursion, a landing or a push rather than a flight.
    """
    if fz.size == 0:
        return 1.0
    typical = float(np.median(fz))
    if abs(typical) > LOADED_N:
        return -1.0 if typical < 0 else 1.0
    return -1.0 if abs(float(fz.min())) > abs(float(fz.max())) else 1.0
