"""Measuring colour: the metric definitions (``metrics``, shared with training), per-image
scores and their aggregate (``scores``), and the JSON, CSV and HTML reports (``report``)."""
