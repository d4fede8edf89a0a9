"""The kinds of work the engine runs: colorizing (``colorize``, the run path: decode -> batch ->
infer -> recombine -> write), gray copies (``gray``), scoring pairs (``score``), and a run's
report (``run_report``)."""
