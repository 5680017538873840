"""Push the dashboards to a running Grafana, and write alerts as Grafana annotations (grafana-client)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from kinesync.dashboards.build import DASHBOARDS, to_dict
from kinesync.settings import Settings

log = logging.getLogger(__name__)

FOLDER_UID = "kinesync"
FOLDER_TITLE = "KineSync"
ALERT_TAG = "kinesync-alert"


def connect(settings: Settings, url: str | None = None) -> GrafanaApi:
    """A client from settings: token first, else user and password, else anonymous."""
    credential: str | tuple[str, str] | None = None
    if settings.grafana_token is not None:
        credential = settings.grafana_token.get_secret_value()
    elif settings.grafana_user:
        password = settings.grafana_password.get_secret_value() if settings.grafana_password else ""
        credential = (settings.grafana_user, password)
    return GrafanaApi.from_url(url or settings.grafana_url, credential=credential, timeout=10.0)


def ensure_folder(api: GrafanaApi, uid: str = FOLDER_UID, title: str = FOLDER_TITLE) -> str:
    try:
        api.folder.get_folder(uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(title, uid=uid)
    return uid


@dataclass(frozen=True, slots=True)
class Published:
    uid: str
    url: str | None
    version: int | None


def publish(api: GrafanaApi, names: Iterable[str] | None = None, *, folder_uid: str | None = FOLDER_UID,
            message: str = "kinesync dashboards publish") -> list[Published]:
    """Create or overwrite each dashboard (by uid) in ``folder_uid``; returns what Grafana answered."""
    if folder_uid:
        ensure_folder(api, folder_uid)
    out = []
    for name in names or DASHBOARDS:
        board = to_dict(DASHBOARDS[name]())
        payload: dict[str, object] = {"dashboard": board, "overwrite": True, "message": message}
        if folder_uid:
            payload["folderUid"] = folder_uid
        answer = api.dashboard.update_dashboard(payload) or {}
        out.append(Published(board["uid"], answer.get("url"), answer.get("version")))
        log.info("published %s (%s) → %s", board["title"], board["uid"], answer.get("url"))
    return out


def annotate_alert(api: GrafanaApi, *, station: str, text: str, at_ms: int, end_ms: int | None = None,
                   rule: str | None = None, athlete: str | None = None,
                   dashboard_uid: str | None = None) -> int | None:
    """An alert as an organisation-wide annotation tagged ``kinesync-alert`` and the station.

    Without a dashboard uid the annotation shows on every dashboard whose annotation query asks for
    these tags, and in annotation-list panels filtered by them.
    """
    tags = [ALERT_TAG, station, *(t for t in (rule, athlete) if t)]
    answer = api.annotations.add_annotation(
        dashboard_uid=dashboard_uid, time_from=at_ms, time_to=end_ms, tags=tags, text=text
    ) or {}
    return answer.get("id")
