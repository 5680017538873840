"""What the wall shows: the latest record per station, kept in memory by the API process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kinesync.analysis.cues import SetLag
from kinesync.api.schemas.wall import STALE_AFTER_S, StationStatus
from kinesync.models import WindowMetric
from kinesync.storage.pipeline import ANALYSIS_ERROR_FLAG


@dataclass(slots=True)
class _Station:
    latest: WindowMetric
    received_at: float
    # Most windows hold no rep (lag_ms None); the tile keeps the last rep's numbers and says how old.
    lag: WindowMetric | None = None
    lag_received_at: float | None = None
    alignment: float | None = None
    rfd_0_100_n_per_s: float | None = None
    peak_propulsive_force_n: float | None = None
    body_weight_n: float | None = None
    transfer_index: float | None = None
    mean_concentric_velocity_m_s: float | None = None
    alert: tuple[str, str, float] | None = None  # (message, state, received at)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LiveState:
    """Latest WindowMetric per station. Single event loop: no locking needed."""

    def __init__(self, *, stale_after_s: float = STALE_AFTER_S, clock: Callable[[], float] = time.time) -> None:
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._stations: dict[str, _Station] = {}
        # Kept apart from the tiles: a new athlete or a forgotten station does not reset them.
        self._analysis_errors: dict[str, int] = {}
        # Set lags come from rep records (the cue hub), not windows: kept per station with the athlete and
        # session they belong to, shown only while the tile shows that athlete and session.
        self._sets: dict[str, tuple[str | None, str | None, SetLag]] = {}

    def __len__(self) -> int:
        return len(self._stations)

    def update(self, m: WindowMetric, *, received_at: float | None = None) -> bool:
        """Take a record; False when it was ignored as older than what is shown (``received_at``: when it
        arrived, s since the epoch; None: now)."""
        now = self._clock() if received_at is None else received_at
        # Stored windows taken at start (seed) are no news of errors since the API started.
        if ANALYSIS_ERROR_FLAG in m.flags and received_at is None:
            self._analysis_errors[m.station] = self._analysis_errors.get(m.station, 0) + 1
        st = self._stations.get(m.station)
        if st is None:
            st = self._stations[m.station] = _Station(latest=m, received_at=now)
        else:
            fresh = now - st.received_at <= self.stale_after_s
            # A rebalance or a replay redelivers old windows; they must not roll the tile back. Once
            # the station went quiet, though, whatever arrives is the best news there is.
            if fresh and m.window_start_ns < st.latest.window_start_ns:
                return False
            if (m.athlete, m.session) != (st.latest.athlete, st.latest.session):
                # Someone else stepped on the plate: the previous athlete's numbers are not theirs.
                st = self._stations[m.station] = _Station(latest=m, received_at=now)
            st.latest, st.received_at = m, now
        if m.lag_ms is not None:
            st.lag, st.lag_received_at = m, now
        for name in ("alignment", "rfd_0_100_n_per_s", "peak_propulsive_force_n", "body_weight_n", "transfer_index",
                     "mean_concentric_velocity_m_s"):
            value = getattr(m, name)
            if value is not None:
                setattr(st, name, value)
        return True

    def seed(self, windows: Iterable[WindowMetric]) -> int:
        """Tiles from stored windows (each station's in window order), each taken as if it had arrived when
        the analyzer emitted it: a restarted API shows the floor as it was, its age told honestly, until
        the next windows come. Stations already shown are left alone. Returns the windows taken."""
        shown = set(self._stations)
        taken = 0
        for m in windows:
            if m.station not in shown:
                taken += self.update(m, received_at=(m.emitted_at_ns or m.window_end_ns) / 1e9)
        return taken

    def note_alert(self, station: str, message: str, state: Literal["firing", "resolved"]) -> None:
        """Show an alert event on the station's tile (kept until the next one or a new athlete)."""
        st = self._stations.get(station)
        if st is not None:
            st.alert = (message, state, self._clock())

    def seed_alert(self, station: str, athlete: str | None, session: str | None, message: str,
                   state: Literal["firing", "resolved"], at_s: float) -> bool:
        """A stored alert event (``at_s``: when it happened, s since the epoch) on the station's tile, if the
        tile shows that athlete and session (the tile drops its alert for a new athlete) and nothing newer."""
        st = self._stations.get(station)
        if st is None or (st.latest.athlete, st.latest.session) != (athlete, session):
            return False
        if st.alert is not None and st.alert[2] > at_s:
            return False
        st.alert = (message, state, at_s)
        return True

    def analysis_errors(self) -> dict[str, object]:
        """Windows received flagged ``analysis_error``, in total and per station, since the API started.

        Counted as received: a window the analyzer re-emits after a restart counts again.
        """
        by_station = dict(sorted(self._analysis_errors.items()))
        return {"total": sum(by_station.values()), "by_station": by_station}

    def note_set(self, station: str, athlete: str | None, session: str | None, summary: SetLag) -> None:
        """The station's current set as of its latest rep (``kinesync.analysis.cues.set_lag``)."""
        self._sets[station] = (athlete, session, summary)

    def forget(self, station: str) -> None:
        self._stations.pop(station, None)
        self._sets.pop(station, None)

    def snapshot(self) -> list[StationStatus]:
        now = self._clock()
        return [self._status(name, now) for name in sorted(self._stations)]

    def status(self, station: str) -> StationStatus | None:
        """The station's tile, or None when no record of it arrived (or it was forgotten)."""
        return self._status(station, self._clock()) if station in self._stations else None

    def _status(self, name: str, now: float) -> StationStatus:
        st = self._stations[name]
        m = st.latest
        age = max(0.0, now - st.received_at)
        lag = st.lag
        set_of = self._sets.get(name)
        set_lag = set_of[2] if set_of is not None and set_of[:2] == (m.athlete, m.session) else None
        return StationStatus(
            station=m.station,
            athlete=m.athlete,
            team=m.team,
            exercise=m.exercise,
            session=m.session,
            lag_ms=lag.lag_ms if lag else None,
            in_window=lag.in_window if lag else None,
            coupling=lag.coupling if lag else None,
            lag_age_s=round(max(0.0, now - st.lag_received_at), 3) if st.lag_received_at else None,
            alignment=st.alignment,
            rfd_0_100_n_per_s=st.rfd_0_100_n_per_s,
            peak_propulsive_force_n=st.peak_propulsive_force_n,
            body_weight_n=st.body_weight_n,
            transfer_index=st.transfer_index,
            mean_concentric_velocity_m_s=st.mean_concentric_velocity_m_s,
            set_lag=set_lag,
            last_alert=st.alert[0] if st.alert else None,
            last_alert_state=st.alert[1] if st.alert else None,  # type: ignore[arg-type]
            last_alert_age_s=round(max(0.0, now - st.alert[2]), 3) if st.alert else None,
            target_low_ms=m.target_low_ms,
            target_high_ms=m.target_high_ms,
            target_source=m.target_source,
            partial=m.partial,
            window_start_ns=m.window_start_ns,
            updated_at=_iso(st.received_at),
            age_s=round(age, 3),
            stale=age > self.stale_after_s,
        )
