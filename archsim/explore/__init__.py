"""Above the flow: many design points at once.

``sweep`` (design points, sweep files, executors, the run), ``store`` (the crash-safe SQLite result
store), ``sizing`` (the Pareto search for a workload) and ``validate`` (every preset against its
published figures).
"""
