"""Request and response bodies of the API, one module per domain.

The facility's bodies (teams, athletes, stations, targets, sessions, plan templates and positions)
are the records of ``kinesync.facility``: the registry takes and returns those same classes, so what
the API validates is exactly what the store accepts. The modules here hold what only the API shows.
"""
