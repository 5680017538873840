"""Odd but valid recordings for `kinesync analyze`, written on demand (C3D through ezc3d, CSV).

Content comes from the simulator: an athlete of about 700 N standing on two plates, squats (or
squat jumps) every 3 s with bursts on rectus femoris, gluteus maximus and pectoralis major, the
pectoral peak 100 ms behind the legs. Each case then stores that content the odd way it is about:
another force-platform type, sign or zero, another analog rate or EMG unit, a length of 0 frames or
10 minutes, hundreds of channels, duplicate or empty labels, dead or saturated channels, CSV files
whose rate or column set changes halfway.

Every case is a ``CorpusFile``: ``build(folder)`` writes its file(s) and returns the arguments of
``kinesync analyze``; ``expect`` holds what is known by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ezc3d
import numpy as np
from ezc3d import ezc3d as ezc3d_core  # the C++ layer: integer parameters and units past 255 channels

from kinesync.sim.athlete import AthleteSpec, SimAthlete

G = 9.80665
BODY_WEIGHT_N = 700.0
LAG_MS = 100.0
POINT_RATE_HZ = 100.0
SESSION_S = 7.0  # two reps, quiet standing before, between and after
C3D_MAX_ENTRIES = 255  # a C3D parameter dimension is one byte; longer lists continue in LABELS2, ...
ADC_RAIL_V = 10.0  # ±10 V analog input: where a saturated channel sits
FLOAT32_MAX = float(np.finfo(np.float32).max)  # C3D stores analog samples as float32
# Sim EMG channels quad, glute, pec, spare under the labels a lab would give them.
EMG_LABELS = ("R Rect Fem", "R Glut Max", "R Pect Maj", "L Tib Ant")
EMG_SCALE = {"V": 1.0, "mV": 1e3, "uV": 1e6, "µV": 1e6}


@dataclass(frozen=True)
class Channel:
    label: str
    unit: str
    values: np.ndarray


@dataclass(frozen=True)
class Plate:
    type: int
    channels: tuple[Channel, ...]  # in the order FORCE_PLATFORM:CHANNEL lists them for this type
    cal_matrix: np.ndarray | None = None  # type 4: 6×6, volts → N and N·m


@dataclass(frozen=True)
class Expect:
    """What a case's outcome must be, as far as it is known by construction.

    ``exit_code`` None: the general rule only (per-rep output, or one line and exit 2).
    ``reps``: (at least, at most) reps when the outcome is per-rep output.
    ``line``: a fragment of the one line on stderr (case-insensitive).
    ``body_weight_n``: every rep that reports a body weight reports this one (±2 %).
    ``lag_ms``: the median lag of the reps lies within ±20 ms of this.
    ``no_body_weight``: the plates cannot give a body weight: one line, or every rep withholds it
    with a flag that says why.
    ``no_lag``: no rep reports a lag (a role channel is dead, saturated or sampled too slowly).
    ``flags``: every rep carries flags starting with each of these.
    """

    exit_code: int | None = None
    reps: tuple[int, int] | None = None
    line: str | None = None
    body_weight_n: float | None = None
    lag_ms: float | None = None
    no_body_weight: bool = False
    no_lag: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorpusFile:
    name: str
    build: Callable[[Path], list[str]]
    expect: Expect


# ---- content ---------------------------------------------------------------------------------


def simulate(rate_hz: float, duration_s: float, *, exercise: str = "back_squat", seed: int = 1
             ) -> tuple[np.ndarray, np.ndarray]:
    """EMG (4, n) in V and load cells (8, n) in N, the left plate's four then the right's, at one rate
    (a C3D file has one analog clock for both)."""
    spec = AthleteSpec.for_exercise(
        exercise, body_mass_kg=BODY_WEIGHT_N / G, lag_ms=LAG_MS, emg_rate_hz=rate_hz, force_rate_hz=rate_hz,
        seed=seed,
    )
    athlete = SimAthlete(spec)
    n = round(duration_s * rate_hz)
    return athlete.emg(0, n), athlete.force(0, n)


def emg_channels(emg: np.ndarray, unit: str = "V", labels: Sequence[str] = EMG_LABELS) -> list[Channel]:
    return [Channel(label, unit, emg[i] * EMG_SCALE[unit]) for i, label in enumerate(labels)]


def type4_cal_matrix() -> np.ndarray:
    """A 6×6 calibration (V → N, N·m) with cross-talk, as a strain-gauge plate's data sheet gives it."""
    cal = np.diag([500.0, 500.0, 2000.0, 400.0, 400.0, 250.0])
    cal[2, 0], cal[2, 1], cal[2, 3] = 8.0, -6.0, 40.0  # vertical picks up shear and a moment
    cal[0, 2], cal[1, 2], cal[5, 0] = 3.0, 2.0, 1.5
    return cal


def plate(ptype: int, cells: np.ndarray, number: int, *, sign: float = -1.0, seed: int = 0) -> Plate:
    """A plate whose four load cells read ``cells`` (4, n) N, stored as FORCE_PLATFORM:TYPE ``ptype``.

    ``sign`` -1 stores the vertical force downward (the force on the plate, like the shared gait
    file), +1 upward. Shear forces and moments are small and plausible, not used by the analysis.
    """
    rng = np.random.default_rng(seed + 100 * number)
    n = cells.shape[1]
    t = np.arange(n) / max(n, 1)
    fz = cells.sum(axis=0)
    fx, fy = rng.normal(0.0, 2.0, n), rng.normal(0.0, 2.0, n)
    cop_x, cop_y = 20.0 * np.sin(2 * np.pi * t), 40.0 + 10.0 * np.cos(2 * np.pi * t)  # mm, a slow sway
    mx, my, mz = fz * cop_y, -fz * cop_x, rng.normal(0.0, 200.0, n)  # N·mm
    k = str(number)
    if ptype == 1:
        chans = (Channel(f"Fx{k}", "N", fx), Channel(f"Fy{k}", "N", fy), Channel(f"Fz{k}", "N", sign * fz),
                 Channel(f"COPx{k}", "mm", cop_x), Channel(f"COPy{k}", "mm", cop_y), Channel(f"Tz{k}", "Nmm", mz))
        return Plate(1, chans)
    if ptype == 2:
        chans = (Channel(f"Fx{k}", "N", fx), Channel(f"Fy{k}", "N", fy), Channel(f"Fz{k}", "N", sign * fz),
                 Channel(f"Mx{k}", "Nmm", sign * mx), Channel(f"My{k}", "Nmm", sign * my),
                 Channel(f"Mz{k}", "Nmm", sign * mz))
        return Plate(2, chans)
    if ptype == 3:
        shear = [Channel(f"Fx12_{k}", "N", fx / 2), Channel(f"Fx34_{k}", "N", fx / 2),
                 Channel(f"Fy14_{k}", "N", fy / 2), Channel(f"Fy23_{k}", "N", fy / 2)]
        corners = [Channel(f"Fz{c}_{k}", "N", sign * cells[c - 1]) for c in range(1, 5)]
        return Plate(3, (*shear, *corners))
    if ptype == 4:
        cal = type4_cal_matrix()
        loads = np.vstack([fx, fy, sign * fz, sign * mx / 1000.0, sign * my / 1000.0, sign * mz / 1000.0])
        volts = np.linalg.solve(cal, loads)
        names = ("Fx", "Fy", "Fz", "Mx", "My", "Mz")
        return Plate(4, tuple(Channel(f"{nm}{k}", "V", volts[i]) for i, nm in enumerate(names)), cal)
    # Types the readers do not know (5: 8 channels and an 8×6 matrix, 6: 12 channels, 7: 8 channels).
    width = {5: 8, 6: 12, 7: 8}[ptype]
    chans = tuple(Channel(f"P{k}_{i + 1}", "V", (sign * fz if i == 2 else fx) / 1000.0) for i in range(width))
    return Plate(ptype, chans)


def dual_plates(ptype: int, cells: np.ndarray, **kw) -> list[Plate]:
    return [plate(ptype, cells[:4], 1, **kw), plate(ptype, cells[4:], 2, **kw)]


# ---- writers ---------------------------------------------------------------------------------


def _int_parameter(c3d: ezc3d.c3d, group: str, name: str, value: Sequence | np.ndarray) -> None:
    # ezc3d's Python helper stores integer lists as FLOAT; the C3D spec has these as INT.
    v = np.asarray(value, dtype=int)
    param = ezc3d_core.Parameter(name)
    param.set(ezc3d_core.VecInt([int(x) for x in v.reshape(-1, order="F")]), list(v.shape))
    c3d["parameters"].add_parameter(group, param)


def _chunks(values: Sequence[str]) -> list[list[str]]:
    return [list(values[i : i + C3D_MAX_ENTRIES]) for i in range(0, max(len(values), 1), C3D_MAX_ENTRIES)]


def write_c3d(path: Path, rate_hz: float, channels: Sequence[Channel], plates: Sequence[Plate] = (),
              *, marker: bool = True) -> Path:
    """A C3D file: the plates' channels first (FORCE_PLATFORM:CHANNEL points at them), then ``channels``.

    With ``marker`` (and an analog rate that is a whole multiple of 100 Hz) one static marker at
    100 Hz, as motion-capture exports have; the file's frames are then marker frames.
    """
    every = [ch for p in plates for ch in p.channels] + list(channels)
    labels = [ch.label for ch in every]
    units = [ch.unit for ch in every]
    data = np.vstack([ch.values for ch in every]) if every else np.zeros((0, 0))
    n = data.shape[1]
    per_frame = rate_hz / POINT_RATE_HZ
    # Units past 255 channels are written by a second pass through the C++ layer, which crashes on
    # files with markers (ezc3d 1.7): such files get none.
    marker = (marker and per_frame == int(per_frame) and n % int(per_frame) == 0
              and len(units) <= C3D_MAX_ENTRIES)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = np.array([POINT_RATE_HZ if marker else rate_hz])
    c["parameters"]["POINT"]["LABELS"]["value"] = ["SACR"] if marker else []
    c["parameters"]["ANALOG"]["RATE"]["value"] = np.array([float(rate_hz)])
    label_chunks = _chunks(labels)
    c["parameters"]["ANALOG"]["LABELS"]["value"] = label_chunks[0]
    for i, chunk in enumerate(label_chunks[1:], 2):
        c.add_parameter("ANALOG", f"LABELS{i}", chunk)
    if len(units) <= C3D_MAX_ENTRIES:
        c.add_parameter("ANALOG", "UNITS", units)
    if marker:
        frames = round(n / per_frame)
        points = np.zeros((4, 1, frames))
        points[:3, 0, :] = np.array([[100.0], [200.0], [1000.0]])
        points[3] = 1.0
    else:
        points = np.zeros((4, 0, n))
    c["data"]["points"] = points
    c["data"]["analogs"] = data[np.newaxis].astype(np.float64)
    c["data"]._storage.pop("rotations", None)  # an empty rotation block would need marker frames
    if plates:
        _int_parameter(c, "FORCE_PLATFORM", "USED", [len(plates)])
        _int_parameter(c, "FORCE_PLATFORM", "TYPE", [p.type for p in plates])
        width = max(len(p.channels) for p in plates)
        channel = np.zeros((width, len(plates)), dtype=int)
        first = 1
        corners = np.zeros((3, 4, len(plates)))
        origin = np.zeros((3, len(plates)))
        for k, p in enumerate(plates):
            channel[: len(p.channels), k] = np.arange(first, first + len(p.channels))
            first += len(p.channels)
            x0 = 600.0 * k  # plates side by side, 600 × 400 mm, corners in the usual order
            corners[:, :, k] = np.array([[x0 + 600, 400, 0], [x0, 400, 0], [x0, 0, 0], [x0 + 600, 0, 0]]).T
            origin[:, k] = (0.0, 0.0, -40.0)
        _int_parameter(c, "FORCE_PLATFORM", "CHANNEL", channel)
        c.add_parameter("FORCE_PLATFORM", "CORNERS", corners)
        c.add_parameter("FORCE_PLATFORM", "ORIGIN", origin)
        cals = [p.cal_matrix for p in plates if p.cal_matrix is not None]
        if cals:
            cal = np.zeros((6, 6, len(plates)))
            for k, p in enumerate(plates):
                cal[:, :, k] = p.cal_matrix if p.cal_matrix is not None else np.eye(6)
            c.add_parameter("FORCE_PLATFORM", "CAL_MATRIX", cal)
    c.write(str(path))
    if len(units) > C3D_MAX_ENTRIES:
        # ezc3d's Python writer keeps UNITS only when one list holds every channel, which C3D allows
        # up to 255; the C++ layer writes UNITS, UNITS2, ... as they are.
        core = ezc3d_core.c3d(str(path))
        for i, chunk in enumerate(_chunks(units), 1):
            param = ezc3d_core.Parameter("UNITS" if i == 1 else f"UNITS{i}")
            param.set(ezc3d_core.VecString(chunk), [len(chunk)])
            core.parameter("ANALOG", param)
        core.write(str(path))
    return path


def write_csv(path: Path, header: Sequence[str], rows: np.ndarray | Sequence[Sequence[object]],
              *, preamble: Sequence[str] = ()) -> Path:
    """A CSV export: optional vendor lines, a header row, then ``rows`` (NaN or None: an empty cell;
    a row may be shorter than the header)."""
    lines = [*preamble, ",".join(header)]
    for row in rows:
        lines.append(",".join("" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.9g}"
                              for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- the cases -------------------------------------------------------------------------------


def _c3d_case(name: str, *, rate_hz: float = 1000.0, duration_s: float = SESSION_S, ptype: int = 2,
              sign: float = -1.0, unit: str = "V", exercise: str = "back_squat",
              cells: Callable[[np.ndarray], np.ndarray] | None = None, single: bool = False,
              emg_edit: Callable[[list[Channel]], list[Channel]] | None = None) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        emg, load = simulate(rate_hz, duration_s, exercise=exercise)
        if cells is not None:
            load = cells(load)
        if single:
            plates = [plate(ptype, load[:4] + load[4:], 1, sign=sign)]
        else:
            plates = dual_plates(ptype, load, sign=sign)
        channels = emg_channels(emg, unit)
        if emg_edit is not None:
            channels = emg_edit(channels)
        path = write_c3d(folder / f"{name}.c3d", rate_hz, channels, plates)
        return [str(path), "--exercise", exercise]
    return build


def _frames_case(name: str, frames: int) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        rate = 1000.0
        n = frames * round(rate / POINT_RATE_HZ)
        emg, load = simulate(rate, max(n, 1) / rate)
        emg, load = emg[:, :n], load[:, :n]
        path = write_c3d(folder / f"{name}.c3d", rate, emg_channels(emg), dual_plates(2, load))
        return [str(path)]
    return build


def _unloaded(load: np.ndarray) -> np.ndarray:
    # Nobody on the plates: each load cell reads its noise around 0 N.
    return np.random.default_rng(5).normal(0.0, 1.5, load.shape)


def _zeroed(load: np.ndarray) -> np.ndarray:
    # Plates tared with the athlete standing on them: 0 N standing, −body weight in flight.
    return load - BODY_WEIGHT_N / load.shape[0]


def _saturated_plate(load: np.ndarray) -> np.ndarray:
    # A broken amplifier: the right plate's load cells read the largest float32 throughout.
    out = load.copy()
    out[4:] = FLOAT32_MAX / 4
    return out


def _many_channels(channels: list[Channel]) -> list[Channel]:
    n = channels[0].values.size
    rng = np.random.default_rng(7)
    spare = [Channel(f"Aux {i:03d}", "V", rng.normal(0.0, 1e-5, n)) for i in range(300)]
    return [*channels, *spare]


def _duplicate_labels(channels: list[Channel]) -> list[Channel]:
    # A template copied twice: the same muscle label on two channels, and a second "L Tib Ant".
    quad, glute, pec, spare = channels
    return [quad, Channel(quad.label, quad.unit, quad.values * 0.8), glute, pec, spare, spare]


def _empty_labels(channels: list[Channel]) -> list[Channel]:
    quad, glute, pec, spare = channels
    return [quad, glute, pec, Channel("", spare.unit, spare.values), Channel("  ", spare.unit, spare.values)]


def _replace(role_index: int, make: Callable[[Channel], np.ndarray]) -> Callable[[list[Channel]], list[Channel]]:
    def edit(channels: list[Channel]) -> list[Channel]:
        out = list(channels)
        ch = out[role_index]
        out[role_index] = Channel(ch.label, ch.unit, make(ch))
        return out
    return edit


def _clipped(ch: Channel) -> np.ndarray:
    # The amplifier saturates at a third of the burst peak: bursts come out as plateaus.
    level = np.max(np.abs(ch.values)) / 3.0
    return np.clip(ch.values, -level, level)


def _aux_channels(channels: list[Channel]) -> list[Channel]:
    # Beside the muscles: a dead input, an input stuck at the rail, a clipped sine (a sync signal).
    n = channels[0].values.size
    t = np.arange(n) / 1000.0
    sine = np.clip(5.0 * np.sin(2 * np.pi * 1.0 * t), -3.0, 3.0)
    return [*channels, Channel("Zero", "V", np.zeros(n)), Channel("Rail", "V", np.full(n, ADC_RAIL_V)),
            Channel("Sync clipped", "V", sine)]


def _unsupported_type(folder: Path) -> list[str]:
    emg, load = simulate(1000.0, SESSION_S)
    path = write_c3d(folder / "plate_type_6.c3d", 1000.0, emg_channels(emg), dual_plates(6, load))
    return [str(path)]


def _csv_session(*, emg_rate: float = 2000.0, force_rate: float = 1000.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time and EMG (4, n) at ``emg_rate``, time and load cells (8, m) at ``force_rate``."""
    spec = AthleteSpec(body_mass_kg=BODY_WEIGHT_N / G, lag_ms=LAG_MS, emg_rate_hz=emg_rate,
                       force_rate_hz=force_rate, seed=2)
    athlete = SimAthlete(spec)
    n, m = round(SESSION_S * emg_rate), round(SESSION_S * force_rate)
    return np.arange(n) / emg_rate, athlete.emg(0, n), np.arange(m) / force_rate, athlete.force(0, m)


_EMG_HEADER = ("time", "quad", "glute", "pec", "tib_ant")


def _csv_pair(folder: Path) -> list[str]:
    t_e, emg, t_f, load = _csv_session()
    emg_path = write_csv(folder / "emg.csv", _EMG_HEADER, np.column_stack([t_e, *emg]))
    force_path = write_csv(folder / "force.csv", ("time", "fz_left", "fz_right"),
                           np.column_stack([t_f, load[:4].sum(0), load[4:].sum(0)]))
    return ["--emg", str(emg_path), "--force", str(force_path), "--exercise", "back_squat"]


def _csv_rate_change(folder: Path) -> list[str]:
    # The plate export switches from 1000 Hz to 500 Hz halfway (a changed acquisition setting).
    _, _, t_f, load = _csv_session()
    total = load.sum(0)
    half = t_f.size // 2
    keep = np.r_[np.arange(half), np.arange(half, t_f.size, 2)]
    path = write_csv(folder / "force_rate_change.csv", ("time", "fz"), np.column_stack([t_f[keep], total[keep]]))
    return ["--force", str(path)]


def _csv_column_empties(folder: Path) -> list[str]:
    # The pectoral electrode came off halfway: its column is empty from there on.
    t_e, emg, t_f, load = _csv_session()
    rows = np.column_stack([t_e, *emg])
    rows[t_e.size // 2 :, 3] = np.nan
    emg_path = write_csv(folder / "emg_pec_empty_from_half.csv", _EMG_HEADER, rows)
    force_path = write_csv(folder / "force.csv", ("time", "fz"), np.column_stack([t_f, load.sum(0)]))
    return ["--emg", str(emg_path), "--force", str(force_path)]


def _csv_rows_shorten(folder: Path) -> list[str]:
    # The export drops its last column halfway: rows lose a cell, the header stays.
    t_e, emg, _, _ = _csv_session()
    rows = np.column_stack([t_e, *emg])
    half = t_e.size // 2
    out: list[list[float]] = [list(r) for r in rows[:half]] + [list(r[:-1]) for r in rows[half:]]
    path = write_csv(folder / "emg_rows_shorten.csv", _EMG_HEADER, out, preamble=("Trigno export", "subject 7"))
    return ["--emg", str(path)]


TWO_REPS = (2, 2)
_NORMAL = Expect(exit_code=0, reps=TWO_REPS, body_weight_n=BODY_WEIGHT_N, lag_ms=LAG_MS)
_ONE_LINE = Expect(exit_code=2)

CORPUS: tuple[CorpusFile, ...] = (
    CorpusFile("plate_type_1", _c3d_case("plate_type_1", ptype=1), _NORMAL),
    CorpusFile("plate_type_2", _c3d_case("plate_type_2", ptype=2), _NORMAL),
    CorpusFile("plate_type_3_eight_channels", _c3d_case("plate_type_3", ptype=3), _NORMAL),
    CorpusFile("plate_type_4_cal_matrix", _c3d_case("plate_type_4", ptype=4), _NORMAL),
    CorpusFile("plate_type_6_unsupported", _unsupported_type, Expect(exit_code=2, line="type 6")),
    CorpusFile("plate_unloaded", _c3d_case("plate_unloaded", cells=_unloaded), Expect(no_body_weight=True)),
    CorpusFile("fz_stored_downward", _c3d_case("fz_down", sign=-1.0), _NORMAL),
    CorpusFile("fz_stored_upward", _c3d_case("fz_up", sign=1.0), _NORMAL),
    CorpusFile("plates_zeroed_loaded_jump",
               _c3d_case("plates_zeroed", cells=_zeroed, exercise="squat_jump", duration_s=9.0),
               Expect(no_body_weight=True)),
    CorpusFile("single_plate", _c3d_case("single_plate", single=True), _NORMAL),
    CorpusFile("rate_100hz", _c3d_case("rate_100hz", rate_hz=100.0),
               Expect(exit_code=0, reps=TWO_REPS, body_weight_n=BODY_WEIGHT_N, no_lag=True)),
    CorpusFile("rate_1000hz", _c3d_case("rate_1000hz", rate_hz=1000.0), _NORMAL),
    CorpusFile("rate_2000hz", _c3d_case("rate_2000hz", rate_hz=2000.0), _NORMAL),
    CorpusFile("rate_10khz", _c3d_case("rate_10khz", rate_hz=10000.0), _NORMAL),
    CorpusFile("emg_volts", _c3d_case("emg_v", unit="V"), _NORMAL),
    CorpusFile("emg_millivolts", _c3d_case("emg_mv", unit="mV"), _NORMAL),
    CorpusFile("emg_microvolts_uV", _c3d_case("emg_uv", unit="uV"), _NORMAL),
    CorpusFile("emg_microvolts_mu", _c3d_case("emg_muv", unit="µV"), _NORMAL),
    CorpusFile("frames_0", _frames_case("frames_0", 0), Expect(exit_code=2, line="no samples")),
    CorpusFile("frames_1", _frames_case("frames_1", 1), Expect(exit_code=2, line="too short")),
    CorpusFile("frames_50", _frames_case("frames_50", 50), Expect(exit_code=2, line="too short")),
    CorpusFile("ten_minutes_1000hz", _c3d_case("ten_minutes", duration_s=600.0, single=True),
               Expect(exit_code=0, reps=(190, 200), body_weight_n=BODY_WEIGHT_N, lag_ms=LAG_MS)),
    CorpusFile("analog_channels_300", _c3d_case("channels_300", emg_edit=_many_channels), _NORMAL),
    CorpusFile("labels_duplicate", _c3d_case("labels_duplicate", emg_edit=_duplicate_labels), _NORMAL),
    CorpusFile("labels_empty", _c3d_case("labels_empty", emg_edit=_empty_labels), _NORMAL),
    CorpusFile("aux_zero_rail_clipped_sine", _c3d_case("aux_channels", emg_edit=_aux_channels), _NORMAL),
    CorpusFile("pec_all_zero", _c3d_case("pec_zero", emg_edit=_replace(2, lambda ch: np.zeros_like(ch.values))),
               Expect(exit_code=0, reps=TWO_REPS, body_weight_n=BODY_WEIGHT_N, no_lag=True, flags=("flat:",))),
    CorpusFile("quad_at_full_scale",
               _c3d_case("quad_full_scale", emg_edit=_replace(0, lambda ch: np.full_like(ch.values, ADC_RAIL_V))),
               Expect(body_weight_n=BODY_WEIGHT_N, no_lag=True)),
    CorpusFile("pec_at_float32_max",
               _c3d_case("pec_float32_max", emg_edit=_replace(2, lambda ch: np.full_like(ch.values, FLOAT32_MAX))),
               Expect(body_weight_n=BODY_WEIGHT_N, no_lag=True)),
    CorpusFile("plate_at_float32_max", _c3d_case("plate_float32_max", cells=_saturated_plate),
               Expect(no_body_weight=True, flags=("plate_saturated",))),
    CorpusFile("glute_clipped", _c3d_case("glute_clipped", emg_edit=_replace(1, _clipped)),
               Expect(exit_code=0, reps=TWO_REPS, body_weight_n=BODY_WEIGHT_N, flags=("clipping:",))),
    CorpusFile("csv_pair", _csv_pair, _NORMAL),
    CorpusFile("csv_rate_changes_halfway", _csv_rate_change, Expect(exit_code=2, line="rate")),
    CorpusFile("csv_column_empty_from_half", _csv_column_empties, Expect(exit_code=0, reps=TWO_REPS)),
    CorpusFile("csv_rows_lose_a_column", _csv_rows_shorten, Expect(exit_code=0, reps=TWO_REPS, lag_ms=LAG_MS)),
)
