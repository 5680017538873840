"""Grafana dashboards as code (grafana-foundation-sdk, Grafana 11 schema) and their publishing."""

from __future__ import annotations

from kinesync.runtime.extras import require

# Both at once: building needs the SDK, publishing and alert annotations the client.
require("grafana_foundation_sdk", "building Grafana dashboards")
require("grafana_client", "publishing dashboards and alert annotations to Grafana")
