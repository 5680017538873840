"""``kinesync dashboards publish`` and ``annotate`` against a real loopback HTTP server that records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kinesync.cli import main
from kinesync.dashboards.build import DASHBOARDS


class FakeGrafana(ThreadingHTTPServer):
    requests: list[tuple[str, str, dict, object]]
    folders: set[str]


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
        body = json.loads(raw) if raw else None
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
        assert isinstance(body, dict)
        if self.path == "/api/folders":
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
    srv.requests, srv.folders = [], set()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("KINESYNC_GRAFANA_URL", f"http://127.0.0.1:{srv.server_address[1]}")
    monkeypatch.setenv("KINESYNC_GRAFANA_TOKEN", "glsa_test_token")
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_publish_creates_the_folder_and_overwrites_every_dashboard(grafana: FakeGrafana) -> None:
    assert main(["dashboards", "publish"]) == 0
    posts = [(p, b) for m, p, _, b in grafana.requests if m == "POST"]
    assert posts[0] == ("/api/folders", {"title": "KineSync", "uid": "kinesync"})
    boards = [b for p, b in posts if p == "/api/dashboards/db"]
    assert len(boards) == len(DASHBOARDS)
    assert {b["dashboard"]["uid"] for b in boards} == {"kinesync-wall", "kinesync-athlete", "kinesync-pipeline"}
    assert all(b["overwrite"] is True and b["folderUid"] == "kinesync" for b in boards)
    assert all(h.get("Authorization") == "Bearer glsa_test_token" for _, _, h, _ in grafana.requests)
    # a second publish finds the folder and does not create it again
    grafana.requests.clear()
    assert main(["dashboards", "publish", "--only", "facility-wall.json"]) == 0
    assert [p for m, p, _, _ in grafana.requests if m == "POST"] == ["/api/dashboards/db"]


def test_alert_as_annotation(grafana: FakeGrafana) -> None:
    assert main(["dashboards", "annotate", "--station", "station-03", "--text", "lag out of band",
                 "--rule", "lag_out_of_window", "--at-ms", "1700000000000"]) == 0
    ((method, path, _, body),) = grafana.requests
    assert (method, path) == ("POST", "/api/annotations")
    assert body["time"] == 1700000000000 and body["text"] == "lag out of band"
    assert body["tags"] == ["kinesync-alert", "station-03", "lag_out_of_window"]
