"""The facility file's schema: one migration list for the registry, plan templates and personal windows.

They share one file (``KINESYNC_REGISTRY_DB``) and ``PRAGMA user_version`` is one number per file,
so all three tables are versioned together, whichever store opens the file first. Files from before
``user_version`` was kept (version 0) replay every step: tables are created only if missing and
columns added only if missing, which brings any of the shapes earlier releases wrote (a personal
windows table alone, sessions without plans or bar sensors) to the current one.
"""

from __future__ import annotations

from pathlib import Path

from kinesync.runtime.sqlite import Migration, SqliteDb, add_columns

MIGRATIONS: tuple[Migration, ...] = (
    # 1: the first release
    """
    CREATE TABLE IF NOT EXISTS teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS athletes (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER);
    CREATE TABLE IF NOT EXISTS stations (id TEXT PRIMARY KEY, label TEXT);
    CREATE TABLE IF NOT EXISTS targets (
      athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, low_ms REAL NOT NULL, high_ms REAL NOT NULL,
      PRIMARY KEY (athlete_id, exercise));
    CREATE TABLE IF NOT EXISTS sessions (
      id INTEGER PRIMARY KEY, station_id TEXT NOT NULL, athlete_id INTEGER NOT NULL, athlete_name TEXT NOT NULL,
      team_name TEXT, exercise TEXT NOT NULL, target_low_ms REAL NOT NULL, target_high_ms REAL NOT NULL,
      started_at_ns INTEGER NOT NULL, stopped_at_ns INTEGER);
    CREATE INDEX IF NOT EXISTS sessions_active ON sessions (station_id) WHERE stopped_at_ns IS NULL;
    """,
    # 2: plan templates, and sessions following a copy of one from a coach-set position
    (
        "CREATE TABLE IF NOT EXISTS plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, plan TEXT NOT NULL, "
        "created_at_ns INTEGER NOT NULL)",
        add_columns("sessions", (
            ("plan_id", "INTEGER"), ("plan", "TEXT"), ("plan_block_index", "INTEGER NOT NULL DEFAULT 0"),
            ("plan_set_index", "INTEGER NOT NULL DEFAULT 0"), ("plan_position_ns", "INTEGER NOT NULL DEFAULT 0"))),
    ),
    # 3: bar sensors on stations (copied into the sessions started there), personal target windows
    (
        add_columns("stations", (("bar_sensor", "INTEGER NOT NULL DEFAULT 0"),)),
        add_columns("sessions", (("bar_sensor", "INTEGER NOT NULL DEFAULT 0"),)),
        """
        CREATE TABLE IF NOT EXISTS personal_windows (
          athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, mode TEXT NOT NULL, locked INTEGER NOT NULL,
          low_ms REAL, high_ms REAL, updated_at_ns INTEGER NOT NULL, PRIMARY KEY (athlete_id, exercise));
        """,
    ),
    # 4: athletes' body mass and dominant side; the devices of each station. Devices get a table rather
    # than a JSON column on stations: the primary key makes "a device belongs to one station at most" a
    # rule of the file itself, whoever writes it, and finding the station of a device (what a frame's
    # device name maps to) is one index read, not a scan through every station's list.
    (
        add_columns("athletes", (("body_mass_kg", "REAL"), ("dominant_side", "TEXT"))),
        """
        CREATE TABLE IF NOT EXISTS station_devices (
          device_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, position INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS station_devices_station ON station_devices (station_id, position);
        """,
    ),
)


def facility_db(path: str | Path) -> SqliteDb:
    """The facility file, migrated to the current schema on first use."""
    return SqliteDb(path, MIGRATIONS)
