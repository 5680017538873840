"""Shared fixtures. Server fixtures live in tests/fixtures/, one module per server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.common import skip_or_fail

pytest_plugins = ["tests.fixtures.broker", "tests.fixtures.influx", "tests.fixtures.victoria"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real laboratory recordings (../shared/data beside the checkout).

    Licences are listed in its PROVENANCE.md. Absent folder: skip, except under CI=true, where the
    recordings are required and the test fails.
    """
    override = os.environ.get("KINESYNC_SHARED_DATA")
    folder = Path(override) if override else SHARED_DATA
    if not (folder / "PROVENANCE.md").is_file():
        message = f"real recordings not found at {folder} (set KINESYNC_SHARED_DATA to their folder)"
        skip_or_fail(message)
    return folder


# Fixtures that start a real server; a test using one must carry the integration marker, so
# `pytest -m "not integration"` is a run with no server at all.
SERVER_FIXTURES = frozenset({"broker", "kafka_settings", "kafka_bus", "influxdb", "victoria"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items
                if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("integration") is None]
    if unmarked:
        raise pytest.UsageError("tests that start a real server without the integration marker: "
                                + ", ".join(unmarked))
