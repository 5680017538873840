"""The facility: teams, athletes, stations, sessions, target windows, plan templates and personal windows.

One SQLite file (``KINESYNC_REGISTRY_DB``) behind ``kinesync.runtime.sqlite``; its schema and
migrations are in ``schema``. The API and the reports both read it from here; nothing in this
package knows HTTP.
"""
