"""Metric storage: InfluxDB 1.x over HTTP, or an embedded SQLite file."""

from __future__ import annotations

from kinesync.storage.base import MetricStore, StorageRejected, StorageUnavailable, open_rep_reader, open_store

__all__ = ["MetricStore", "StorageRejected", "StorageUnavailable", "open_rep_reader", "open_store"]
