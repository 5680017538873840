"""Grafana dashboards as code (grafana-foundation-sdk, Grafana 11 schema) and their publishing."""

from __future__ import annotations
