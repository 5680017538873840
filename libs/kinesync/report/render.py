"""The report as one self-contained HTML file (PNGs inline as base64) and the per-rep CSV."""

from __future__ import annotations

import base64
import csv
import html
import json
from datetime import UTC, datetime
from pathlib import Path

from kinesync.analysis.rep_records import COLUMNS, rep_record, summarize
from kinesync.report import plots
from kinesync.report.data import SessionData
from kinesync.report.training_plots import load_velocity_plot, priming_forest
from kinesync.training.load_velocity import AthleteLoadVelocity
from kinesync.training.priming import PrimingEffect

_STYLE = """
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; margin: 2em auto; max-width: 1100px; color: #111827; }
h1 { margin-bottom: 0.2em; } .meta { color: #4b5563; margin-top: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.85em; width: 100%; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f4f6; } td.flags { text-align: left; color: #92400e; }
tr.out td.lag { color: #dc2626; font-weight: 700; } tr.in td.lag { color: #16a34a; font-weight: 700; }
figure { margin: 1.5em 0; page-break-inside: avoid; } figure img { width: 100%; }
figcaption { color: #4b5563; font-size: 0.9em; } .note { color: #92400e; }
table.summary { width: auto; } table.summary th { text-align: left; }
"""


def _cell(value: object, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _figure(png: bytes | None, alt: str, caption: str, fig_id: str) -> str:
    if png is None:
        return f'<p class="note" id="{fig_id}-missing">{html.escape(alt)}: not available for this data.</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{fig_id}"><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def rep_rows(data: SessionData) -> list[dict[str, object]]:
    """Per-rep records exactly as `kinesync analyze --json` writes them."""
    return [rep_record(r, data.t0_ns) for r in data.reps]


def _position(rep: object) -> str:
    kind = getattr(rep, "block_kind", None)
    if kind is None:
        return "–"
    return f"{rep.block_index + 1} {kind} · set {rep.set_index + 1} · rep {rep.rep_in_set}"  # type: ignore[attr-defined]


def _num(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def priming_section(effect: PrimingEffect | None) -> str:
    """Per metric: primed and baseline means, difference with its 95 % Welch interval, Hedges' g."""
    if effect is None:
        return ""
    base = effect.baseline + (f" ({', '.join(effect.baseline_sessions)})" if effect.baseline == "earlier sessions"
                              else "")
    rows = []
    for e in effect.effects:
        verdict = ("better" if e.difference > 0 else "worse") if e.better and e.excludes_zero else (
            "no clear change" if e.better else "")
        g = "–" if e.hedges_g is None else f"{e.hedges_g:.2f} [{e.g_ci_low:.2f}, {e.g_ci_high:.2f}]"
        rows.append(
            f'<tr data-metric="{e.metric}"><th>{html.escape(e.label)} ({html.escape(e.unit)})</th>'
            f"<td>{_num(e.mean_primed)} ± {_num(e.sd_primed)} ({e.n_primed})</td>"
            f"<td>{_num(e.mean_baseline)} ± {_num(e.sd_baseline)} ({e.n_baseline})</td>"
            f'<td class="diff">{_num(e.difference)}</td><td class="ci">[{_num(e.ci_low)}, {_num(e.ci_high)}]</td>'
            f"<td>{g}</td><td>{verdict}</td></tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in effect.notes)
    figure = _figure(priming_forest(effect), "Priming effect",
                     "Hedges' g of every metric with its 95 % interval; right of zero is the better outcome "
                     "(the raw lag has no better direction: the timing row judges it).", "fig-priming")
    return f"""<h2>Priming effect</h2>
<p class="meta">working sets after the priming block ({effect.n_primed_reps} reps) against the baseline:
{html.escape(base)} ({effect.n_baseline_reps} reps). Difference = primed − baseline; 95 % interval by
Welch's t; Hedges' g with its small-sample correction (docs/metrics.md, "Priming effect").</p>{notes}
<table class="summary" id="priming"><thead><tr><th>metric</th><th>primed mean ± SD (n)</th>
<th>baseline mean ± SD (n)</th><th>difference</th><th>95 % CI</th><th>Hedges' g [95 %]</th><th></th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>{figure}
"""


def load_velocity_section(lv: AthleteLoadVelocity | None) -> str:
    """The athlete's load–velocity profile over sessions: the line, R², threshold and estimated 1RM."""
    if lv is None:
        return ""
    rows = [("points (sets)", str(len(lv.points))), ("sessions", ", ".join(lv.sessions) or "–")]
    if lv.fit is not None:
        rows += [("slope, m/s per kg", f"{lv.fit.slope_m_s_per_kg:.5f}"),
                 ("intercept, m/s", f"{lv.fit.intercept_m_s:.3f}"),
                 ("R²", "–" if lv.fit.r_squared is None else f"{lv.fit.r_squared:.3f}")]
    rows.append(("minimal velocity threshold, m/s",
                 "–" if lv.minimal_velocity_m_s is None
                 else f"{lv.minimal_velocity_m_s:.2f} ({lv.minimal_velocity_source or ''})"))
    rows.append(("estimated 1RM, kg", "–" if lv.one_rm_kg is None else f"{lv.one_rm_kg:.1f}"))
    table = "".join(f'<tr><th>{html.escape(k)}</th><td data-key="{html.escape(k)}">{html.escape(v)}</td></tr>'
                    for k, v in rows)
    reason = f'<p class="note">{html.escape(lv.reason)}</p>' if lv.reason else ""
    figure = _figure(load_velocity_plot(lv), "Load–velocity profile",
                     "Fastest rep of every set against its load; the line through the fastest set at each load, "
                     "extended to the minimal velocity threshold, where it gives the estimated 1RM "
                     "(docs/metrics.md, \"Load–velocity profile and 1RM\").", "fig-load-velocity")
    return f"""<h2>Load–velocity profile</h2>
<p class="meta">{html.escape(lv.athlete)} · {html.escape(lv.exercise)} · all stored sessions; loads read back
from the bar power (load = P / (g·MCV)).</p>{reason}
<table class="summary" id="load-velocity">{table}</table>{figure}
"""


def render_html(data: SessionData) -> str:
    rows = rep_rows(data)
    summary = summarize(rows)
    low, high = data.target_ms
    rep = plots.representative(data.reps)
    if data.recording is not None and rep is not None:
        env_png = plots.emg_envelopes(data.recording, rep)
        force_png = plots.force_curve(data.recording, rep)
    else:
        env_png = plots.stored_envelopes(rep) if rep is not None else None
        force_png = None
    rep_no = data.reps.index(rep) + 1 if rep is not None else None
    figures = [
        _figure(plots.lag_per_rep(data.reps, data.target_ms) if data.reps else None, "Lag per rep",
                f"Phase lag of every rep; the band is the target window {low:g}–{high:g} ms.", "fig-lag"),
        _figure(env_png, "EMG envelopes", f"Rep {rep_no} (lag closest to the session median): leg-drive and "
                "pectoral envelopes, each scaled to its peak; dashed lines mark each burst's onset (last rise above "
                "3 SD over the quietest 250 ms, at least 10 % of the peak).", "fig-emg"),
        _figure(force_png, "Force curve", f"Rep {rep_no}: vertical force with body weight, force onset and the "
                "RFD windows 0–50, 0–100 and 0–200 ms.", "fig-force"),
    ]
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in COLUMNS)
    planned = any(getattr(r, "block_kind", None) is not None for r in data.reps)
    if planned:
        head = "<th>block · set · rep</th>" + head
    body = []
    for i, r in enumerate(rows, 1):
        cls = "" if r.get("in_window") is None else ("in" if r["in_window"] else "out")
        cells = "".join(
            f'<td class="{key.split("_")[0]}" data-key="{key}">{html.escape(_cell(r.get(key), fmt).strip())}</td>'
            for key, _, fmt in COLUMNS
        )
        flags = html.escape(", ".join(r["flags"])) or "–"  # type: ignore[arg-type]
        if planned:
            cells = f'<td data-key="position">{html.escape(_position(data.reps[i - 1]))}</td>' + cells
        body.append(f'<tr class="{cls}"><td>{i}</td>{cells}<td class="flags">{flags}</td></tr>')
    summary_rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{v:.3f}</td></tr>" if isinstance(v, float)
        else f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{v}</td></tr>" for k, v in summary.items()
    )
    who = " · ".join(html.escape(x) for x in (data.athlete, data.exercise, data.station) if x)
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in data.notes)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # The rep records ride along as JSON so tools (and tests) can read the exact numbers back.
    record: dict[str, object] = {"session": data.session, "reps": rows, "summary": summary}
    if data.priming is not None:
        record["priming"] = data.priming.model_dump(mode="json")
    if data.load_velocity is not None:
        record["load_velocity"] = data.load_velocity.model_dump(mode="json")
    payload = json.dumps(record).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KineSync session {html.escape(data.session)}</title>
<style>{_STYLE}</style></head><body>
<h1>Session {html.escape(data.session)}</h1>
<p class="meta">{who} · target {low:g}–{high:g} ms · source: {html.escape(data.source)} · made {made}</p>
{notes}
<h2>Summary</h2><table class="summary" id="summary">{summary_rows}</table>
<h2>Plots</h2>{"".join(figures)}
{priming_section(data.priming)}{load_velocity_section(data.load_velocity)}<h2>Reps</h2>
<table id="reps"><thead><tr><th>rep</th>{head}<th>flags</th></tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<script type="application/json" id="reps-json">{payload}</script>
</body></html>
"""


CSV_FIELDS = ("rep", "rep_start_s", "rep_peak_s", "lag_ms", "coupling", "in_window", "target_low_ms", "target_high_ms",
              "onset_lag_ms", "leg_onset_to_pec_peak_ms", "alignment", "body_weight_n", "rfd_0_50_n_per_s",
              "rfd_0_100_n_per_s", "rfd_0_200_n_per_s", "peak_rfd_n_per_s", "braking_rfd_n_per_s",
              "braking_impulse_n_s", "propulsive_impulse_n_s", "mean_braking_force_n", "mean_propulsive_force_n",
              "peak_propulsive_force_n", "peak_propulsive_force_n_per_kg", "peak_landing_force_n", "peak_power_w",
              "mean_propulsive_power_w", "peak_power_w_per_kg", "countermovement_depth_m", "time_to_takeoff_s",
              "rsi_modified", "asymmetry_propulsive_impulse_pct", "asymmetry_braking_impulse_pct",
              "asymmetry_peak_force_pct", "asymmetry_side", "transfer_index",
              "jump_height_flight_m", "jump_height_impulse_m", "flags", "block_index", "block_kind", "set_index",
              "rep_in_set")


def write_csv(data: SessionData, path: str | Path) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for i, (r, rep) in enumerate(zip(rep_rows(data), data.reps, strict=True), 1):
            position = {k: getattr(rep, k, None) for k in ("block_index", "block_kind", "set_index", "rep_in_set")}
            w.writerow({**r, **position, "rep": i, "flags": ";".join(r["flags"])})  # type: ignore[arg-type]
