"""Training protocols: session plans and rep attribution, the priming effect, trends across weeks."""
