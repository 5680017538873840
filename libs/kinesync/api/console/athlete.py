"""Athlete: sessions over time, one session's reps against the target band, the priming effect,
trends over weeks, the load–velocity profile, and the report downloads.

The numbers come from the REST analysis routes' own functions (``routes.analysis.get_priming``,
``routes.analysis.get_trends``, ``routes.load_velocity.get_load_velocity``) on ``app.state.rep_store``;
the downloads from the report functions ``kinesync report`` uses (``kinesync.report``), behind the
console session: the REST API has no report endpoints, and a bearer token cannot ride on a link.
Plots are inline SVG rendered here: no JavaScript, no chart library, readable without colour
(uncertain reps are hollow, out-of-band reps are drawn as squares).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Response
from markupsafe import Markup

from kinesync.api import deps
from kinesync.api.console.core import ConsoleSession, current_session, looking, render_page, router
from kinesync.api.routes import analysis as analysis_routes
from kinesync.api.routes import facility as rest
from kinesync.api.routes import load_velocity as load_velocity_routes
from kinesync.api.routes import sessions as session_routes
from kinesync.facility.models import (
    Exercise,
    Session,
)
from kinesync.models import RepMetric
from kinesync.storage.base import StorageUnavailable

TREND_WEEKS = 8
Z95 = 1.96

# The per-rep table: (field, heading, format); a column is shown when any rep has a value.
REP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("lag_ms", "Lag ms", "%.0f"),
    ("lag_se_ms", "± SE ms", "%.0f"),
    ("peak_rfd_n_per_s", "Peak RFD N/s", "%.0f"),
    ("rfd_0_100_n_per_s", "RFD 0–100 N/s", "%.0f"),
    ("peak_propulsive_force_n", "Peak force N", "%.0f"),
    ("propulsive_impulse_n_s", "Prop. impulse N·s", "%.1f"),
    ("rsi_modified", "RSImod m/s", "%.2f"),
    ("jump_height_impulse_m", "Jump m", "%.3f"),
    ("asymmetry_propulsive_impulse_pct", "Asym. %", "%.0f"),
    ("asymmetry_side", "Stronger side", "%s"),
    ("transfer_index", "Transfer", "%.2f"),
    ("mean_concentric_velocity_m_s", "MCV m/s", "%.2f"),
    ("peak_concentric_velocity_m_s", "Peak vel. m/s", "%.2f"),
    ("mean_concentric_power_w", "Mean power W", "%.0f"),
)


@dataclass(frozen=True)
class PlotPoint:
    label: str
    value: float
    half_width: float | None = None  # 95 % interval half-width, ms
    uncertain: bool = False
    inside: bool | None = None


def _nice_step(span: float) -> float:
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if span / step <= 8:
            return float(step)
    return 2000.0


def lag_svg(points: list[PlotPoint], band: tuple[float, float] | None, *, title: str, x_label: str,
            line: bool = False) -> Markup:
    """Lags as dots (with 95 % error bars) against the shaded target band, on an axis in ms."""
    w, h, left, right, top, bottom = 720, 300, 56, 12, 14, 44
    values = [p.value for p in points]
    lows = [p.value - (p.half_width or 0.0) for p in points] + ([band[0]] if band else [])
    highs = [p.value + (p.half_width or 0.0) for p in points] + ([band[1]] if band else [])
    lo, hi = (min(lows), max(highs)) if values or band else (0.0, 200.0)
    pad = max(10.0, (hi - lo) * 0.08)
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    lo, hi = step * (lo // step), step * -(-hi // step)

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * (h - top - bottom)

    n = max(len(points), 1)

    def x(i: int) -> float:
        return left + (i + 0.5) * (w - left - right) / n

    # In a scrolling region: on a phone the plot keeps its drawn size (12 px text) and scrolls sideways
    # rather than shrinking its labels to a few pixels.
    out = [f'<div class="plotwrap" role="region" aria-label="{Markup.escape(title)}" tabindex="0">'
           f'<svg class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="{Markup.escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f"<title>{Markup.escape(title)}</title>"]
    if band:
        out.append(f'<rect class="band" x="{left}" y="{y(band[1]):.1f}" width="{w - left - right}" '
                   f'height="{y(band[0]) - y(band[1]):.1f}">'
                   f"<title>target band {band[0]:.0f}–{band[1]:.0f} ms</title></rect>")
    tick = lo
    while tick <= hi + 1e-9:
        out.append(f'<line class="axis" x1="{left}" x2="{w - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke-dasharray="2 4"/>'
                   f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.0f}</text>')
        tick += step
    out.append(f'<text x="14" y="{(h - bottom + top) / 2:.0f}" transform="rotate(-90 14 {(h - bottom + top) / 2:.0f})" '
               f'text-anchor="middle">lag (ms)</text>')
    out.append(f'<text x="{(w + left) / 2:.0f}" y="{h - 6}" text-anchor="middle">{Markup.escape(x_label)}</text>')
    label_every = max(1, len(points) // 12)
    if line and len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        out.append(f'<polyline class="line" points="{path}"/>')
    for i, p in enumerate(points):
        cx, cy = x(i), y(p.value)
        if p.half_width:
            out.append(f'<line class="err" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(p.value + p.half_width):.1f}" '
                       f'y2="{y(p.value - p.half_width):.1f}"/>')
        cls = ("in" if p.inside else "out" if p.inside is False else "in") + (" uncertain" if p.uncertain else "")
        tip = f"{p.label}: {p.value:.0f} ms" + (f" ± {p.half_width:.0f}" if p.half_width else "") + (
            " (uncertain)" if p.uncertain else "")
        if p.inside is False:
            out.append(f'<rect class="dot {cls}" x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10">'
                       f"<title>{Markup.escape(tip)}</title></rect>")
        else:
            out.append(f'<circle class="dot {cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="5.5">'
                       f"<title>{Markup.escape(tip)}</title></circle>")
        if i % label_every == 0:
            out.append(f'<text x="{cx:.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                       f"{Markup.escape(p.label)}</text>")
    out.append("</svg></div>")
    return Markup("".join(out))


def rep_points(reps: list[RepMetric]) -> list[PlotPoint]:
    pts = []
    for i, r in enumerate(reps, 1):
        if r.lag_ms is None:
            continue
        half = Z95 * r.lag_se_ms if r.lag_se_ms else None
        # Uncertain: the 95 % interval of the lag reaches across an edge of the band.
        uncertain = half is not None and any(r.lag_ms - half < edge < r.lag_ms + half
                                             for edge in (r.target_low_ms, r.target_high_ms))
        inside = r.target_low_ms <= r.lag_ms <= r.target_high_ms
        pts.append(PlotPoint(str(i), r.lag_ms, half, uncertain, inside))
    return pts


def rep_table(reps: list[RepMetric]) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    cols = [(f, head, fmt) for f, head, fmt in REP_COLUMNS if any(getattr(r, f, None) is not None for r in reps)]
    rows = []
    for i, r in enumerate(reps, 1):
        pos = (f"{(r.block_index or 0) + 1} {r.block_kind or ''} · set {(r.set_index or 0) + 1} · rep {r.rep_in_set}"
               if r.block_index is not None and r.rep_in_set is not None else str(i))
        row = {"rep": pos, "in_window": "—" if r.in_window is None else ("in" if r.in_window else "out")}
        for f, _, fmt in cols:
            v = getattr(r, f, None)
            row[f] = "—" if v is None else fmt % v
        rows.append(row)
    return [(f, head) for f, head, _ in cols], rows


def dominant_note(dominant: str | None, reps: list[RepMetric]) -> str | None:
    """The athlete's recorded dominant side against the plates' stronger side, rep by rep: a coach reads an
    asymmetry differently when it favours the side the athlete prefers anyway."""
    sides = [r.asymmetry_side for r in reps if r.asymmetry_side is not None]
    if dominant is None or not sides:
        return None
    same = sum(side == dominant for side in sides)
    return f"Dominant side: {dominant}. The stronger side was the dominant one in {same} of {len(sides)} reps."


async def _own_session(request: Request, athlete_id: int, session_id: int) -> tuple[Any, Session]:
    reg = deps.get_registry(request)
    athlete = await rest.get_athlete(None, reg, athlete_id)
    s = await session_routes.get_session(None, reg, session_id)
    if s.athlete_id != athlete_id:
        raise HTTPException(404, detail=f"session {session_id} is not {athlete.name}'s")
    return athlete, s


async def _rep_store(request: Request) -> Any:
    try:
        return deps.get_rep_store(request)
    except HTTPException:
        return None


async def athlete_analysis(request: Request, athlete_id: int, sessions: list[Session]) -> dict[str, Any]:
    """Trends over weeks and the load–velocity profile per exercise, for the athlete page."""
    reg, store = deps.get_registry(request), await _rep_store(request)
    if store is None:
        return {"no_store": "No rep store is configured: sessions are listed, their reps cannot be read."}
    out: dict[str, Any] = {"no_store": None}
    try:
        t = await analysis_routes.get_trends("viewer", reg, store, athlete_id, TREND_WEEKS)
    except HTTPException as exc:
        out["trends_error"] = str(exc.detail)
    else:
        out["trends"] = t
        pts = [PlotPoint(w.week, w.lag_mean_ms, None, False,
                         None if t.target_ms is None else t.target_ms[0] <= w.lag_mean_ms <= t.target_ms[1])
               for w in t.weekly if w.lag_mean_ms is not None]
        out["trend_svg"] = lag_svg(pts, t.target_ms, title=f"Weekly mean lag over {t.weeks} weeks",
                                   x_label="ISO week", line=True) if pts else None
    profiles = []
    for ex in dict.fromkeys(s.exercise for s in sessions):
        try:
            lv = await load_velocity_routes.get_load_velocity("viewer", reg, store, athlete_id, Exercise(ex),
                                                              None, None)
        except HTTPException as exc:
            profiles.append({"exercise": ex, "error": str(exc.detail)})
            continue
        if lv.points:
            profiles.append({"exercise": ex, "lv": lv})
    out["profiles"] = profiles
    return out


@router.get("/athletes/{athlete_id}/sessions/{session_id}")
async def session_page(request: Request, athlete_id: int, session_id: int) -> Response:
    s = looking(request)
    if not isinstance(s, ConsoleSession):
        return s
    athlete, session = await _own_session(request, athlete_id, session_id)
    ctx: dict[str, Any] = {"athlete": athlete, "sess": session, "reps": [], "svg": None, "priming": None,
                           "priming_note": None, "no_store": None, "dominant": None}
    store = await _rep_store(request)
    if store is None:
        ctx["no_store"] = "No rep store is configured: this session's reps cannot be read."
    else:
        try:
            reps = sorted(await store.session_reps(str(session_id)), key=lambda r: r.rep_peak_ns)
        except StorageUnavailable as exc:
            reps, ctx["no_store"] = [], f"The rep store is unavailable: {exc}"
        ctx["reps"] = reps
        pts = rep_points(reps)
        if pts:
            band = (reps[-1].target_low_ms, reps[-1].target_high_ms)
            ctx["svg"] = lag_svg(pts, band, title=f"Lag per rep of session {session_id}, target band "
                                 f"{band[0]:.0f}–{band[1]:.0f} ms", x_label="rep")
            ctx["uncertain"] = sum(p.uncertain for p in pts)
        ctx["columns"], ctx["rows"] = rep_table(reps)
        ctx["dominant"] = dominant_note(athlete.dominant_side, reps)
        if any(r.block_kind == "priming" for r in reps):
            try:
                ctx["priming"] = await analysis_routes.get_priming("viewer", deps.get_registry(request), store,
                                                                   athlete_id, session_id)
            except HTTPException as exc:
                ctx["priming_note"] = str(exc.detail)
    return render_page(request, "session.html", s, **ctx)


# downloads: the reports `kinesync report` writes, behind the console session


# A PDF starts a headless Chromium on the API host: one at a time, whoever asks (viewers may).
_PDF_SLOT = threading.Semaphore(1)


def _render_pdf(html_text: str, stem: str) -> bytes | str:
    from kinesync.report.pdf import html_to_pdf

    with tempfile.TemporaryDirectory(prefix="kinesync-console-") as tmp:
        src, pdf = Path(tmp) / f"{stem}.html", Path(tmp) / f"{stem}.pdf"
        src.write_text(html_text, encoding="utf-8")
        why_not = html_to_pdf(src, pdf)
        return why_not if why_not is not None else pdf.read_bytes()


async def _pdf(html_text: str, stem: str) -> bytes:
    if not _PDF_SLOT.acquire(blocking=False):
        raise HTTPException(503, detail="another PDF is being made: try again in a few seconds",
                            headers={"Retry-After": "5"})
    try:
        out = await asyncio.to_thread(_render_pdf, html_text, stem)
    finally:
        _PDF_SLOT.release()
    if isinstance(out, str):
        raise HTTPException(503, detail=out)
    return out


async def _csv(write: Any, data: Any, stem: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kinesync-console-") as tmp:
        path = Path(tmp) / f"{stem}.csv"
        write(data, path)
        return path.read_bytes()


def _download(content: bytes, name: str, media: str) -> Response:
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                        "Cache-Control": "no-store"})


def _need_store(request: Request) -> Any:
    return deps.get_rep_store(request)  # 503 with the reason when there is none


@router.get("/athletes/{athlete_id}/sessions/{session_id}/report.{kind}")
async def session_report(request: Request, athlete_id: int, session_id: int, kind: str) -> Response:
    if current_session(request) is None:
        raise HTTPException(401, detail="sign in first (/console/login)")
    if kind not in ("pdf", "csv", "html"):
        raise HTTPException(404)
    await _own_session(request, athlete_id, session_id)
    from kinesync.report import render_html, write_csv
    from kinesync.report.data import from_reader

    try:
        data = await from_reader(_need_store(request), str(session_id))
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except StorageUnavailable as exc:
        raise HTTPException(503, detail=f"rep store unavailable: {exc}") from exc
    return await _report(kind, data, f"session-{session_id}", write_csv, render_html)


@router.get("/athletes/{athlete_id}/trends.{kind}")
async def trends_report(request: Request, athlete_id: int, kind: str, weeks: int = TREND_WEEKS) -> Response:
    if current_session(request) is None:
        raise HTTPException(401, detail="sign in first (/console/login)")
    if kind not in ("pdf", "csv", "html") or not 1 <= weeks <= analysis_routes.MAX_WEEKS:
        raise HTTPException(404)
    from kinesync.report.trends import render_trends_html, write_trends_csv

    t = await analysis_routes.get_trends("viewer", deps.get_registry(request), _need_store(request), athlete_id, weeks)
    return await _report(kind, t, f"trends-{athlete_id}", write_trends_csv, render_trends_html)


async def _report(kind: str, data: Any, stem: str, write_csv: Any, render_html: Any) -> Response:
    """A report download: its CSV, its HTML page, or that page printed to PDF."""
    if kind == "csv":
        return _download(await _csv(write_csv, data, stem), f"{stem}.csv", "text/csv")
    page = await asyncio.to_thread(render_html, data)
    if kind == "html":
        return _download(page.encode(), f"{stem}.html", "text/html")
    return _download(await _pdf(page, stem), f"{stem}.pdf", "application/pdf")
