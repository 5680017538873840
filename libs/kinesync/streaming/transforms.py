"""Per-frame processing of a device's samples before they enter the station's ring buffers."""

from __future__ import annotations

import math

import numpy as np

from kinesync.dsp.filters import EnvelopeFilter, FilterBank
from kinesync.streaming.roles import LEG_ROLES, emg_role_rows, force_rows

EMG_HIGH_HZ = 450.0  # upper band-pass edge for surface EMG, Hz
EMG_HIGH_SHARE_OF_RATE = 0.45  # at low rates the edge sits at this share of the rate (0.9 × Nyquist)
MIN_EMG_RATE_HZ = 200.0  # below this rate the band left (20 Hz .. 0.45·rate) is too narrow to use, Hz


def emg_rate_flag(rate_hz: float) -> str | None:
    """``emg_rate_low`` when the band-pass edge must move below 450 Hz, ``emg_rate_too_low`` when no lag
    can be measured at this rate, None at the usual rates (≥ 1 kHz)."""
    if rate_hz < MIN_EMG_RATE_HZ:
        return "emg_rate_too_low"
    if EMG_HIGH_SHARE_OF_RATE * rate_hz < EMG_HIGH_HZ:
        return "emg_rate_low"
    return None


class EmgTransform:
    """Raw EMG rows → [leg-drive envelope, pectoral envelope, raw role channels ...].

    The leg-drive envelope is the mean of the quadriceps and gluteal envelopes. Every role channel
    goes through the same causal filters, so filter delays cancel in a lag. The raw role channels
    are kept for the signal-quality checks of each rep.
    """

    # Takes the frame's float32 samples as they come: it converts only the rows it uses, once.
    takes_float32 = True

    def __init__(self, channels: tuple[str, ...], rate_hz: float, cutoff_hz: float) -> None:
        roles = emg_role_rows(channels)
        self.leg_rows = [r for role in LEG_ROLES for r in roles.get(role, [])]
        self.pec_rows = roles.get("pec", [])
        self.rows = self.leg_rows + self.pec_rows
        self._take = _as_slice(self.rows)
        self._n_leg, self._n_pec = len(self.leg_rows), len(self.pec_rows)
        self.raw_names = tuple(channels[r] for r in self.rows)
        self.n_out = 2 + len(self.rows)
        # The band-pass needs its upper edge below Nyquist: below 1 kHz it moves down (flagged), and
        # below MIN_EMG_RATE_HZ too little of the EMG spectrum is left to time a burst by.
        self.rate_flag = emg_rate_flag(rate_hz)
        high_hz = min(EMG_HIGH_HZ, EMG_HIGH_SHARE_OF_RATE * rate_hz)
        usable_rate = self.rate_flag != "emg_rate_too_low" and cutoff_hz < rate_hz / 2.0
        self._filter = (
            EnvelopeFilter(rate_hz, len(self.rows), high_hz=high_hz, cutoff_hz=cutoff_hz)
            if self.rows and usable_rate else None
        )
        # Transforms with equal keys are interchangeable but for their filter state: ``many`` runs them
        # together (the input's channel count is in the key, since the row selection depends on it).
        self.batch_key = (
            (type(self), len(channels), tuple(self.rows), self._n_leg, float(rate_hz), high_hz, float(cutoff_hz))
            if self._filter is not None else None
        )

    @property
    def usable(self) -> bool:
        return bool(self.leg_rows) and bool(self.pec_rows) and self._filter is not None

    # ``finite=True``: the caller knows the block holds no NaN (a frame without gap markers).
    takes_finite_hint = True

    def __call__(self, block: np.ndarray, finite: bool = False) -> np.ndarray:
        n = block.shape[1]
        if self._filter is None:
            return np.zeros((self.n_out, n))
        out = np.empty((self.n_out, n))
        # float32 → float64 is exact: the same numbers as converting the whole frame first, in one
        # copy that is then filtered in place.
        work = block[self._take].astype(np.float64, order="C")
        out[2:] = work
        # A NaN gap marker would poison the filter state for good; the quality check sees it in raw.
        # One sum tells whether there is any (Inf never gets past the codec).
        if not finite and math.isnan(np.add.reduce(work, axis=None)):
            np.nan_to_num(work, copy=False, nan=0.0)
        self._filter.process_inplace(work)
        # add.reduce, then / n, is exactly what ndarray.mean computes, without its Python wrapper.
        # Two rows: add.reduce adds row 1 to row 0, as np.add does; one row: the row itself (and / 1
        # changes nothing).
        n_leg = self._n_leg
        if n_leg == 2:
            np.add(work[0], work[1], out=out[0])
            out[0] /= 2
        elif n_leg == 1:
            out[0] = work[0]
        elif n_leg:
            np.add.reduce(work[:n_leg], axis=0, out=out[0])
            out[0] /= n_leg
        else:
            out[0] = 0.0
        n_pec = self._n_pec
        if n_pec == 1:
            out[1] = work[n_leg]
        elif n_pec:
            np.add.reduce(work[n_leg:], axis=0, out=out[1])
            out[1] /= n_pec
        else:
            out[1] = 0.0
        return out


    @staticmethod
    def many(transforms: list[EmgTransform], blocks: list[np.ndarray], finite: bool) -> np.ndarray:
        """Each transform's ``__call__`` on its block, in one filter call for all (equal ``batch_key``s,
        equal block lengths); (transforms, n_out, n). ``finite``: no block holds a NaN."""
        first = transforms[0]
        k, n = len(transforms), blocks[0].shape[1]
        r = len(first.rows)
        out = np.empty((k, first.n_out, n))
        # float32 → float64, exact, as in __call__; C order, so the reshape below is a view of it. np.array of
        # equal-shape blocks is np.stack's array (and raises where stack would), at half its cost; when
        # every row is taken it converts them too, in the same single copy.
        take = first._take
        if take == slice(0, blocks[0].shape[0]):
            work = np.array(blocks, dtype=np.float64, order="C")
        else:
            work = np.array(blocks)[:, take].astype(np.float64, order="C")
        out[:, 2:] = work
        if not finite and math.isnan(np.add.reduce(work, axis=None)):
            np.nan_to_num(work, copy=False, nan=0.0)
        FilterBank.of([t._filter for t in transforms]).process_inplace(work.reshape(k * r, n))  # type: ignore[misc]
        # The same additions in the same order as __call__, on every transform's rows at once.
        n_leg, n_pec = first._n_leg, first._n_pec
        if n_leg == 2:
            np.add(work[:, 0], work[:, 1], out=out[:, 0])
            out[:, 0] /= 2
        elif n_leg == 1:
            out[:, 0] = work[:, 0]
        elif n_leg:
            np.add.reduce(work[:, :n_leg], axis=1, out=out[:, 0])
            out[:, 0] /= n_leg
        else:
            out[:, 0] = 0.0
        if n_pec == 1:
            out[:, 1] = work[:, n_leg]
        elif n_pec:
            np.add.reduce(work[:, n_leg:], axis=1, out=out[:, 1])
            out[:, 1] /= n_pec
        else:
            out[:, 1] = 0.0
        return out


class ForceTransform:
    """Force rows → vertical force in total, on the left plate and on the right plate (N)."""

    n_out = 3

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.vertical, self.left, self.right = force_rows(channels)
        # Adjacent rows (the usual layout) are read as a slice, a view: no gather copy per frame.
        self._take = tuple(_as_slice(idx) for idx in (self.vertical, self.left, self.right))
        self.batch_key = (type(self), len(channels), tuple(map(tuple, (self.vertical, self.left, self.right))))

    @property
    def usable(self) -> bool:
        return bool(self.vertical)

    @property
    def dual(self) -> bool:
        return bool(self.left) and bool(self.right)

    takes_float32 = True  # sums in float64 straight from the frame's float32 samples

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = np.zeros((3, block.shape[1]))
        for row, take in enumerate(self._take):
            if take is not None:
                # add.reduce is what sum(axis=0) runs (same order of additions), minus its Python
                # wrapper; each float32 sample is widened to float64 before it is added.
                np.add.reduce(block[take], axis=0, dtype=np.float64, out=out[row])
        return out


    @staticmethod
    def many(transforms: list[ForceTransform], blocks: list[np.ndarray], finite: bool) -> np.ndarray:
        """Each transform's ``__call__`` on its block at once (equal ``batch_key``s and block lengths)."""
        first = transforms[0]
        k, n = len(blocks), blocks[0].shape[1]
        # The blocks side by side, (channels, k·n): each sum then runs along rows as long as all the blocks
        # together, not along k short ones (half the time). Each sample still gets its rows added one after
        # the other, in row order, as in a (k, channels, n) stack; float32 → float64 is exact, so converting
        # first changes no number.
        rows = np.concatenate(blocks, axis=1, dtype=np.float64)
        out = np.zeros((3, k, n))
        for row, take in enumerate(first._take):
            if take is not None:
                np.add.reduce(rows[take], axis=0, out=out[row].reshape(k * n))
        return out.transpose(1, 0, 2)


def _as_slice(rows: list[int]) -> slice | list[int] | None:
    if not rows:
        return None
    if rows == list(range(rows[0], rows[-1] + 1)):
        return slice(rows[0], rows[-1] + 1)
    return rows
