"""``kinesync dashboards publish`` and ``annotate`` against a real loopback HTTP server that records requests."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kinesync.cli import main
from kinesync.dashboards.build import DASHBOARDS


class FakeGrafana(ThreadingHTTPServer):
    """Records every request; the tests judge them in their own thread.

    An assertion or any other exception in a handler thread would only be printed by the server, and
    the client would see a dropped connection at most, so the handlers never assert: they answer 400
    to what a real Grafana would reject, and anything that still raises is kept in ``errors`` (a POST
    handler then answers 500).
    """

    requests: list[tuple[str, str, dict, object]]
    folders: set[str]
    errors: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        self.errors.append(traceback.format_exc())


class Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> object:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw  # kept as bytes: the test sees that it was not JSON
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self) -> None:
        self._record()
        uid = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/api/folders/") and uid in self.server.folders:
            self._answer(200, {"uid": uid})
        else:
            self._answer(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = self._record()
        try:
            self._post(body)
        except Exception:
            self.server.errors.append(traceback.format_exc())
            self._answer(500, {"message": "fake server failed"})

    def _post(self, body: object) -> None:
        if not isinstance(body, dict):
            self._answer(400, {"message": "bad request data"})
        elif self.path == "/api/folders":
            self.server.folders.add(body["uid"])
            self._answer(200, {"uid": body["uid"], "title": body["title"]})
        elif self.path == "/api/dashboards/db":
            uid = body["dashboard"]["uid"]
            self._answer(200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x", "version": 1})
        elif self.path == "/api/annotations":
            self._answer(200, {"id": 42, "message": "Annotation added"})
        else:
            self._answer(404, {"message": "no route"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGrafana]:
    srv = FakeGrafana(("127.0.0.1", 0), Handler)
    srv.requests, srv.folders, srv.errors = [], set(), []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("KINESYNC_GRAFANA_URL", f"http://127.0.0.1:{srv.server_address[1]}")
    monkeypatch.setenv("KINESYNC_GRAFANA_TOKEN", "glsa_test_token")
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


Request = tuple[str, str, dict, object]


def received(grafana: FakeGrafana) -> list[Request]:
    """What the server received, judged here in the test's thread: no handler failed, every body is a JSON object."""
    assert not grafana.errors, "a request handler raised:\n" + "\n".join(grafana.errors)
    not_objects = [(m, p, b) for m, p, _, b in grafana.requests if m == "POST" and not isinstance(b, dict)]
    assert not not_objects, not_objects
    return list(grafana.requests)


def test_publish_creates_the_folder_and_overwrites_every_dashboard(grafana: FakeGrafana) -> None:
    status = main(["dashboards", "publish"])
    requests = received(grafana)
    assert status == 0
    # The folder is looked up first, and created only because it was not found.
    assert requests[0][:2] == ("GET", "/api/folders/kinesync")
    posts = [(p, b) for m, p, _, b in requests if m == "POST"]
    assert posts[0] == ("/api/folders", {"title": "KineSync", "uid": "kinesync"})
    boards = [b for p, b in posts if p == "/api/dashboards/db"]
    assert len(boards) == len(DASHBOARDS) == len(posts) - 1
    assert {b["dashboard"]["uid"] for b in boards} == {"kinesync-wall", "kinesync-athlete", "kinesync-pipeline"}
    assert all(b["overwrite"] is True and b["folderUid"] == "kinesync" for b in boards)
    assert all(h.get("Authorization") == "Bearer glsa_test_token" for _, _, h, _ in requests)
    # a second publish finds the folder and does not create it again
    grafana.requests.clear()
    status = main(["dashboards", "publish", "--only", "facility-wall.json"])
    requests = received(grafana)
    assert status == 0
    assert [(m, p) for m, p, _, _ in requests] == [("GET", "/api/folders/kinesync"), ("POST", "/api/dashboards/db")]
    assert requests[1][3]["dashboard"]["uid"] == "kinesync-wall"


def test_alert_as_annotation(grafana: FakeGrafana) -> None:
    status = main(["dashboards", "annotate", "--station", "station-03", "--text", "lag out of band",
                   "--rule", "lag_out_of_window", "--at-ms", "1700000000000"])
    ((method, path, headers, body),) = received(grafana)
    assert status == 0
    assert (method, path) == ("POST", "/api/annotations")
    assert headers.get("Authorization") == "Bearer glsa_test_token"
    assert body["time"] == 1700000000000 and body["text"] == "lag out of band"
    assert body["tags"] == ["kinesync-alert", "station-03", "lag_out_of_window"]
