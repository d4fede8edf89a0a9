"""A batch of jobs: its options, jobs and typed results (``jobs``), the plan of a tree with each
output's sources (``plan``, ``sources``, ``steering``), the engine that executes any plan here or
on a Dask cluster (``engine``, ``cluster``), the bounded stage every pool waits through
(``stage``), the write step (``writing``) and a tree mirrored into OUT (``tree``)."""
