"""Console pages beyond sign-in and the floor's start/stop: alerts (subscriptions, "send a test",
recent alerts), the athlete and session pages (lag plot, metrics, priming, trends, load–velocity,
downloads), and the floor card's set position and personal-window lock. TestClient throughout; the
test send goes to a real HTTP receiver on a free local port."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import verify
from kinesync.alerts.store import AlertStore
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.console import PlotPoint, lag_svg
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import AthleteIn, SessionIn, StationIn
from kinesync.facility.personal import PersonalStore
from kinesync.facility.plans import PlanTemplateIn, PlanTemplates
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric
from kinesync.runtime.browser import find_chromium
from kinesync.storage.sqlite import SqliteStore
from kinesync.training.plan_models import PlanBlock, SessionPlan
from tests.unit.test_console import csrf_of, sign_in

ADMIN, VIEWER = "admin-token-console-pages", "viewer-token-console-pages"
PLAN = SessionPlan(blocks=(
    PlanBlock(kind="control", exercise="back_squat", sets=1, reps_per_set=6),
    PlanBlock(kind="priming", exercise="back_squat", sets=1, reps_per_set=3, load_kg=40),
    PlanBlock(kind="working", exercise="back_squat", sets=2, reps_per_set=6, load_kg=100),
))


def reps_of(session: str, t0_s: float) -> list[RepMetric]:
    """Control reps at 160 ms, priming at 130, working at 100 (centre of 80–120): a clear effect."""
    out, t = [], t0_s
    layout = [(0, "control", 0, 160.0, 6), (1, "priming", 0, 130.0, 3), (2, "working", 0, 100.0, 6),
              (2, "working", 1, 104.0, 6)]
    for block, kind, set_, lag, n in layout:
        for k in range(n):
            ns = round(t * 1e9)
            wiggle = (-1) ** k * (3 + k)
            mcv = (1.0 if block == 1 else 0.6) - 0.01 * k
            out.append(RepMetric(
                station="station-01", athlete="Ada", exercise="back_squat", session=session, rep_peak_ns=ns,
                rep_start_ns=ns - 10**8, window_start_ns=ns - 10**8, window_end_ns=ns + 10**8,
                lag_ms=lag + wiggle, lag_se_ms=12.0 if k == 1 else 3.0, in_window=80 <= lag + wiggle <= 120,
                block_index=block, block_kind=kind, set_index=set_, rep_in_set=k + 1,
                peak_rfd_n_per_s=9000 + 100 * k, peak_propulsive_force_n=2100.0 + k,
                mean_concentric_velocity_m_s=mcv, mean_concentric_power_w=(40 if block == 1 else 100) * 9.80665 * mcv))
            t += 4.0
        t += 120.0
    return out


@pytest.fixture
def app(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    asyncio.run(reg.create_station(StationIn(id="station-01")))
    ada = asyncio.run(reg.create_athlete(AthleteIn(name="Ada")))
    plan = asyncio.run(PlanTemplates(reg).create(PlanTemplateIn(name="Prime", plan=PLAN)))
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=ada.id, exercise="back_squat",
                                                plan_id=plan.id)))
    asyncio.run(reg.stop_session(s.id))
    db = tmp_path / "reps.db"

    async def fill() -> None:
        async with SqliteStore(db) as store:
            await store.write(reps_of(str(s.id), time.time() - 3600))
    asyncio.run(fill())
    application = create_app(LiveState(), tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN),
                                                          viewer_sha256=sha256_hex(VIEWER)))
    application.state.registry, application.state.session_sink = reg, ListSessionSink()
    application.state.alerts_store = AlertStore(tmp_path / "alerts.db")
    application.state.rep_store = SqliteStore(db)
    application.state.personal_store = PersonalStore(tmp_path / "personal.db")
    application.state.test_ids = {"athlete": ada.id, "session": s.id, "plan": plan.id}
    yield application
    asyncio.run(application.state.rep_store.close())
    asyncio.run(application.state.personal_store.close())
    application.state.alerts_store.close()
    asyncio.run(reg.close())


class Receiver:
    """A webhook receiver on a free local port: records what it got, answers with a set status and body."""

    def __init__(self, status: int = 202, body: bytes = b'{"received": true}') -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, data))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_alerts_subscribe_test_send_and_delete(app) -> None:
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    page = client.get("/console/alerts")
    assert page.status_code == 200 and "No subscriptions yet" in page.text and 'name="url"' in page.text
    # validation message next to its field
    bad = client.post("/console/alerts/subscriptions", data={"csrf": csrf, "url": "not a url", "format": "generic"})
    assert bad.status_code == 422
    assert re.search(r'id="url-error" data-field="url">[^<]*URL', bad.text)
    with Receiver() as rx:
        r = client.post("/console/alerts/subscriptions", data={
            "csrf": csrf, "url": rx.url, "format": "generic", "name": "Coach phone", "teams": "Firsts, U21",
            "min_severity": "warning", "send_resolved": "on"})
        assert r.status_code == 200 and "Subscribed Coach phone." in r.text
        secret = re.search(r'<pre class="secret">([^<]+)</pre>', r.text).group(1)
        store = app.state.alerts_store
        (sub,) = store.subscriptions()  # what GET /api/alerts/subscriptions lists: the same store
        assert sub.teams == ["Firsts", "U21"] and sub.min_severity == "warning" and sub.format == "generic"
        rest = client.get("/api/alerts/subscriptions", headers={"Authorization": f"Bearer {ADMIN}"}).json()
        assert [x["id"] for x in rest] == [sub.id]
        # send a test (htmx): the receiver's answer is shown; the body is signed as the dispatcher signs it
        r = client.post(f"/console/alerts/subscriptions/{sub.id}/test", data={"csrf": csrf},
                        headers={"HX-Request": "true"})
        assert r.status_code == 200 and 'data-result="ok"' in r.text
        assert "HTTP 202" in r.text and "received" in r.text and "<html" not in r.text
        headers, body = rx.got[-1]
        assert verify(secret, headers, body) and json.loads(body)["rule"] == "console-test"
    with Receiver(status=500, body=b"receiver exploded") as rx:
        r = client.post("/console/alerts/subscriptions", data={"csrf": csrf, "url": rx.url, "format": "slack"})
        slack = next(x for x in app.state.alerts_store.subscriptions() if x.format == "slack")
        assert "<pre class=\"secret\">" not in r.text  # Slack URLs are the secret: nothing to show
        r = client.post(f"/console/alerts/subscriptions/{slack.id}/test", data={"csrf": csrf})  # without JS
        assert r.status_code == 200 and "<html" in r.text
        assert re.search(r'id="test-' + slack.id + r'"[^>]*data-result="failed"', r.text)
        assert "HTTP 500" in r.text and "receiver exploded" in r.text
        assert "text" in json.loads(rx.got[-1][1])  # Slack's format
    # a receiver that is not there: the error is shown
    with Receiver() as rx:
        gone = rx.url
    client.post("/console/alerts/subscriptions", data={"csrf": csrf, "url": gone, "format": "teams", "name": "gone"})
    teams = next(x for x in app.state.alerts_store.subscriptions() if x.format == "teams")
    r = client.post(f"/console/alerts/subscriptions/{teams.id}/test", data={"csrf": csrf},
                    headers={"HX-Request": "true"})
    assert 'data-result="failed"' in r.text and "Not delivered" in r.text and "ConnectError" in r.text
    # delete through the REST function; unknown ids are said on the page
    r = client.post(f"/console/alerts/subscriptions/{teams.id}/delete", data={"csrf": csrf})
    assert r.status_code == 200 and "Subscription deleted." in r.text
    assert teams.id not in [x.id for x in app.state.alerts_store.subscriptions()]
    r = client.post("/console/alerts/subscriptions/sub_nope/delete", data={"csrf": csrf})
    assert r.status_code == 404 and "no subscription" in r.text


def test_recent_alerts_show_state_and_delivery_attempts(app) -> None:
    store: AlertStore = app.state.alerts_store
    now = time.time_ns()
    fire = AlertEvent(rule="lag-drift", station="station-01", athlete="Ada", state="firing",
                      message="Ada: lag out of window in 4 of 5 reps", at_ns=now, fired_at_ns=now)
    done = AlertEvent(rule="lag-drift", station="station-01", athlete="Ada", state="resolved",
                      message="Ada: lag back in window", at_ns=now + 1, fired_at_ns=now)
    store.record([(fire, "sub_x"), (done, "sub_x")], {}, {}, now)
    rows = store.deliveries()
    store.mark_retry(rows[-1].id, 3, now + 10**9, "HTTP 503: busy")
    store.mark_delivered(rows[0].id, 1, now)
    client = TestClient(app)
    sign_in(client, VIEWER)
    page = client.get("/console/alerts").text
    assert '<td class="state firing">firing</td>' in page and '<td class="state resolved">resolved</td>' in page
    row = re.search(rf'<tr data-delivery="{rows[-1].id}">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="attempts">3</td>' in row and "HTTP 503: busy" in row and "pending" in row
    assert "lag out of window in 4 of 5 reps" in page


def test_each_athletes_latest_alert_shows_without_any_subscription(app) -> None:
    # Nobody subscribed: the outbox is empty, but the alerts service's saved state says what it decided.
    from kinesync.alerts.config import DEFAULT_RULES
    from kinesync.alerts.engine import RuleEngine
    from kinesync.models import WindowMetric

    store: AlertStore = app.state.alerts_store
    client = TestClient(app)
    sign_in(client, VIEWER)
    assert "No alert has fired yet." in client.get("/console/alerts").text
    engine = RuleEngine(DEFAULT_RULES)
    now = time.time_ns()
    for i in range(5):
        for athlete, lag in (("Ada", 150.0), ("Bo", 100.0)):
            engine.observe(WindowMetric(station=f"station-{athlete}", athlete=athlete, window_start_ns=now + i,
                                        window_end_ns=now + i + 1, lag_ms=lag, in_window=80 <= lag <= 120,
                                        target_low_ms=80.0, target_high_ms=120.0))
    store.record([], engine.snapshot(), {}, now)
    page = client.get("/console/alerts").text
    (row,) = re.findall(r'<tr data-latest="lag-drift">(.*?)</tr>', page, re.S)  # Bo never drifted
    assert '<td class="state firing">firing</td>' in row and "Ada · station-Ada" in row
    assert "Ada: lag out of 80-120 ms in 5 of the last 5 reps" in row
    assert "Nothing sent yet" in page


def test_viewer_sees_alerts_but_cannot_change_them(app) -> None:
    client = TestClient(app)
    csrf = sign_in(client, VIEWER)
    with Receiver() as rx:
        from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription

        sub = new_subscription(SubscriptionIn(url=rx.url), time.time_ns())
        app.state.alerts_store.add_subscription(sub)
        page = client.get("/console/alerts").text
        assert sub.id in page and "<form method=\"post\" action=\"/console/alerts" not in page
        for path in ("/console/alerts/subscriptions", f"/console/alerts/subscriptions/{sub.id}/test",
                     f"/console/alerts/subscriptions/{sub.id}/delete"):
            assert client.post(path, data={"csrf": csrf, "url": rx.url}).status_code == 403
        assert rx.got == []  # the viewer's "test" sent nothing
    assert len(app.state.alerts_store.subscriptions()) == 1


def test_session_page_plots_lags_against_the_band_with_metrics_and_priming(app) -> None:
    ids = app.state.test_ids
    client = TestClient(app)
    sign_in(client, VIEWER)
    athlete = client.get(f"/console/athletes/{ids['athlete']}")
    assert athlete.status_code == 200
    assert f'href="/console/athletes/{ids["athlete"]}/sessions/{ids["session"]}"' in athlete.text
    page = client.get(f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}")
    assert page.status_code == 200
    svg = re.search(r'<svg class="plot".*?</svg>', page.text, re.S).group(0)
    assert 'class="band"' in svg and "lag (ms)" in svg and "target band 80–120 ms" in svg
    assert svg.count('class="dot') == 21  # every rep with a lag
    assert svg.count('class="err"') == 21  # each with its 95 % interval
    assert svg.count("rect class=\"dot out") == 9  # the control and priming reps sit above the band
    assert "uncertain" in svg  # SE 12 ms reaching across an edge
    # metrics table: force and velocity per rep, only the columns that have values
    assert "Peak RFD N/s" in page.text and "MCV m/s" in page.text and "Jump m" not in page.text
    assert "3 working · set 2 · rep 6" in page.text
    # priming effect from the priming endpoint's function: the timing difference and its interval
    row = re.search(r'<tr data-metric="timing_improvement_ms">(.*?)</tr>', page.text, re.S).group(1)
    assert " to " in row and "better" in row
    # downloads
    for kind in ("pdf", "csv", "html"):
        assert f'/sessions/{ids["session"]}/report.{kind}"' in page.text


def test_athlete_page_trends_load_velocity_and_downloads(app) -> None:
    ids = app.state.test_ids
    client = TestClient(app)
    sign_in(client, VIEWER)
    page = client.get(f"/console/athletes/{ids['athlete']}").text
    assert "Trends over 8 weeks" in page and re.search(r"<td>\d{4}-W\d\d</td><td>1</td><td>21</td>", page)
    assert page.count('<svg class="plot"') == 1
    lv = re.search(r'<section class="profile" data-exercise="back_squat">(.*?)</section>', page, re.S).group(1)
    assert "Estimated 1RM" in lv and "<td>100.0</td>" in lv and "<td>40.0</td>" in lv and "plan" in lv
    one_rm = re.search(r"Estimated 1RM: <b>([\d.]+) kg</b>", lv)
    assert one_rm and 100 < float(one_rm.group(1)) < 250
    # the downloads work with the cookie session alone
    csv = client.get(f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}/report.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"] and len(csv.text.strip().splitlines()) == 22
    html = client.get(f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}/report.html")
    assert html.status_code == 200 and 'id="priming"' in html.text
    trends = client.get(f"/console/athletes/{ids['athlete']}/trends.csv")
    assert trends.status_code == 200 and "scope" in trends.text.splitlines()[0]
    # without a session: nothing
    anon = TestClient(app)
    assert anon.get(f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}/report.csv").status_code == 401
    # another athlete's session is not served under this athlete
    assert client.get(f"/console/athletes/{ids['athlete'] + 1}/sessions/{ids['session']}/report.csv"
                      ).status_code == 404


@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium for the PDF")
def test_session_and_trend_pdfs(app) -> None:
    ids = app.state.test_ids
    client = TestClient(app)
    sign_in(client, VIEWER)
    for path in (f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}/report.pdf",
                 f"/console/athletes/{ids['athlete']}/trends.pdf"):
        r = client.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")


def test_one_pdf_at_a_time(app) -> None:
    # Each PDF starts a Chromium on the API host, and viewers may ask: a second one waits its turn.
    from kinesync.api.console import athlete

    ids = app.state.test_ids
    client = TestClient(app)
    sign_in(client, VIEWER)
    assert athlete._PDF_SLOT.acquire(blocking=False)  # a PDF in the making
    try:
        r = client.get(f"/console/athletes/{ids['athlete']}/trends.pdf")
    finally:
        athlete._PDF_SLOT.release()
    assert r.status_code == 503 and r.headers["retry-after"] == "5" and "another PDF" in r.text


def test_lag_svg_marks_out_of_band_and_uncertain_reps() -> None:
    svg = lag_svg([PlotPoint("1", 100, 5, False, True), PlotPoint("2", 150, 40, True, False)], (80, 120),
                  title="t <x>", x_label="rep")
    assert "t &lt;x&gt;" in svg and '<rect class="dot out uncertain"' in svg and '<circle class="dot in"' in svg
    assert ">100<" in svg and ">200<" in svg and "lag (ms)" in svg  # ms ticks on the axis


def test_floor_card_moves_the_set_and_locks_the_window(app) -> None:
    ids = app.state.test_ids
    reg: Registry = app.state.registry
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=ids["athlete"],
                                                exercise="back_squat", plan_id=ids["plan"])))
    sink: ListSessionSink = app.state.session_sink
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    floor = client.get("/console/floor").text
    assert "Move to this set" in floor and "Lock personal window" in floor
    hx = {"HX-Request": "true"}
    r = client.post("/console/floor/station-01/position", data={"csrf": csrf, "session_id": s.id, "block": "3",
                                                                "set": "2"}, headers=hx)
    assert r.status_code == 200 and "block 3/3 (working) · set 2/2" in r.text
    moved = asyncio.run(reg.get_session(s.id))
    assert (moved.plan_block_index, moved.plan_set_index) == (2, 1)
    assert sink.published[-1].session == str(s.id)  # published like PUT /sessions/{id}/position
    r = client.post("/console/floor/station-01/position", data={"csrf": csrf, "session_id": s.id, "block": "9",
                                                                "set": "1"}, headers=hx)
    assert 'role="alert"' in r.text  # the registry's refusal, in the card
    n = len(sink.published)
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "locked": "true"}, headers=hx)
    assert r.status_code == 200 and "Unlock personal window" in r.text and ", locked" in r.text
    assert asyncio.run(app.state.personal_store.get(ids["athlete"], "back_squat")).locked
    assert len(sink.published) == n + 1
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "locked": "false"}, headers=hx)
    assert "Lock personal window" in r.text
    assert not asyncio.run(app.state.personal_store.get(ids["athlete"], "back_squat")).locked
    # viewers: no forms, and 403
    viewer = TestClient(app)
    vcsrf = sign_in(viewer, VIEWER)
    assert "Move to this set" not in viewer.get("/console/floor").text
    for path, data in (("position", {"session_id": s.id, "block": "1"}), ("window", {"locked": "true"})):
        assert viewer.post(f"/console/floor/station-01/{path}", data={"csrf": vcsrf, **data}).status_code == 403
    assert csrf_of(floor)
