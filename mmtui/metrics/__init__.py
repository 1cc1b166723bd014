"""Prometheus metrics from the core: a collector that reads the engine's state on
scrape (``collector``), served over HTTP on the session's loop (``server``), set up
by the config's ``metrics:`` section (``config``)."""
