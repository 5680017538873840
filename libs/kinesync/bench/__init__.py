"""``kinesync bench``: throughput, latency, memory and cost of the analyzer, measured in one run.

Two measurements per station count (method and caveats in docs/performance.md):

* ``analyzer_alone``: pre-generated, pre-encoded frames through ``AnalyzerEngine.handle`` in a clean
  subprocess (CPU per session second, RSS per athlete), the same data through the bare numpy floor
  (``floor``), and two processes on half the stations each (scale-out);
* ``pipeline``: the real services' code through the embedded broker in real time (rep end → metric,
  metric → storage, writer points per second).

``report`` turns both into the table, the JSON document and the target verdicts.
"""

from __future__ import annotations
