"""The API's routes, one module per domain; ``kinesync.api.main`` mounts them in ``ROUTERS`` order.

Route modules define no pydantic models (those are in ``kinesync.api.schemas`` and
``kinesync.facility``) and do not look up the app's state themselves: every resource and token check
comes through ``kinesync.api.deps``.
"""
