"""Above the flow: many design points at once.

``points`` (one flat configuration to one result, its stable key, the per-run :class:`EvalCache` and the
model fingerprint), ``spec`` (sweep files read and checked whole), ``executors`` (in this process, a local
pool or Dask), ``run`` (running points and sweeps into the store and one table), ``store`` (the
crash-safe SQLite result store), ``sizing`` (the Pareto search for a workload), ``validate`` (every preset
against its published figures) and ``bench`` (every workload on every device beside published chips).
"""
