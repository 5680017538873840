"""The athlete trends report: weekly and per-session means over N weeks, as HTML with plots and CSV."""

from __future__ import annotations

import csv
import html
import json
from datetime import UTC, datetime
from pathlib import Path

from kinesync.facility.registry import NotFound, Registry
from kinesync.report.render import _STYLE, _figure
from kinesync.report.training_plots import trend_lag, trend_panels
from kinesync.storage.readers import RepReader
from kinesync.storage.sqlite import SqliteStore
from kinesync.training.trends import Summary, Trends, trend_range_ns, trends

NS = 1_000_000_000
SUMMARY_FIELDS = tuple(Summary.model_fields)


async def resolve_athlete(athlete: str, registry_path: Path | None) -> str:
    """A registry id (digits, with an existing registry file) becomes the athlete's name, which reps carry."""
    if not athlete.isdigit() or registry_path is None:
        return athlete
    reg = Registry(registry_path)
    try:
        return (await reg.get_athlete(int(athlete))).name
    except NotFound as exc:
        raise LookupError(f"athlete {athlete} is not in {registry_path}") from exc
    finally:
        await reg.close()


async def trends_from_store(source: str | Path | RepReader, athlete: str, weeks: int, until_ns: int) -> Trends:
    """The athlete's trends from a SQLite file (a path) or any RepReader (InfluxDB included)."""
    if isinstance(source, str | Path):
        async with SqliteStore(source) as store:
            return await trends_from_reader(store, athlete, weeks, until_ns, label=str(source))
    return await trends_from_reader(source, athlete, weeks, until_ns, label=repr(source))


async def trends_from_reader(reader: RepReader, athlete: str, weeks: int, until_ns: int, *, label: str) -> Trends:
    since_ns, end_ns = trend_range_ns(weeks, until_ns)
    reps = await reader.athlete_reps(athlete, since_ns=since_ns, until_ns=end_ns)
    result = trends(athlete, reps, weeks, until_ns)
    if not any(w.reps for w in result.weekly):
        raise LookupError(f"no reps of athlete {athlete!r} in the {weeks} week(s) up to "
                          f"{datetime.fromtimestamp(until_ns // NS, UTC):%Y-%m-%d} in {label}")
    return result


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return html.escape(str(v))


def render_trends_html(t: Trends) -> str:
    cols = ("reps", "lag_mean_ms", "lag_sd_ms", "timing_error_ms", "alignment", "rfd_0_100_n_per_s",
            "transfer_index", "mean_concentric_velocity_m_s")
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
    week_rows = "".join(
        f'<tr data-week="{w.week}"><th>{w.week}</th><td>{w.sessions}</td>'
        + "".join(f'<td data-key="{c}">{_fmt(getattr(w, c))}</td>' for c in cols) + "</tr>"
        for w in t.weekly)
    session_rows = "".join(
        f"<tr><th>{html.escape(s.session)}</th><td>{datetime.fromtimestamp(s.start_ns // NS, UTC):%Y-%m-%d %H:%M}</td>"
        + "".join(f"<td>{_fmt(getattr(s, c))}</td>" for c in cols) + "</tr>"
        for s in t.sessions)
    figures = [
        _figure(trend_lag(t, t.target_ms), "Lag per week", "Weekly mean phase lag ± SD, the target band, and every "
                "session's mean lag.", "fig-trend-lag"),
        _figure(trend_panels(t), "Weekly means", "Weekly share of reps in the target window, mean |lag − window "
                "centre|, RFD 0–100 ms, transfer index and mean bar velocity where measured.", "fig-trend-weekly"),
    ]
    first = datetime.fromtimestamp(t.since_ns // NS, UTC)
    last = datetime.fromtimestamp(t.until_ns // NS, UTC)
    payload = json.dumps(t.model_dump(mode="json")).replace("</", "<\\/")
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KineSync trends {html.escape(t.athlete)}</title>
<style>{_STYLE}</style></head><body>
<h1>Trends: {html.escape(t.athlete)}</h1>
<p class="meta">{t.weeks} ISO week(s), {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC) · {len(t.sessions)} session(s) ·
made {made}</p>
<h2>Plots</h2>{"".join(figures)}
<h2>Weeks</h2>
<table id="weeks"><thead><tr><th>week</th><th>sessions</th>{head}</tr></thead><tbody>{week_rows}</tbody></table>
<h2>Sessions</h2>
<table id="sessions"><thead><tr><th>session</th><th>start</th>{head}</tr></thead><tbody>{session_rows}</tbody></table>
<script type="application/json" id="trends-json">{payload}</script>
</body></html>
"""


def write_trends_csv(t: Trends, path: str | Path) -> None:
    """One row per week and one per session (column ``scope``), every summary field."""
    fields = ("scope", "week", "week_start", "session", "start", "sessions", *SUMMARY_FIELDS)
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for wk in t.weekly:
            w.writerow({"scope": "week", "week": wk.week, "sessions": wk.sessions,
                        "week_start": datetime.fromtimestamp(wk.week_start_ns // NS, UTC).date().isoformat(),
                        **{k: getattr(wk, k) for k in SUMMARY_FIELDS}})
        for s in t.sessions:
            w.writerow({"scope": "session", "session": s.session,
                        "start": datetime.fromtimestamp(s.start_ns // NS, UTC).isoformat(),
                        **{k: getattr(s, k) for k in SUMMARY_FIELDS}})
