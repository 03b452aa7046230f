"""Presenting results: tables, fronts and figures, made from DataFrames the other steps computed.

``tables`` (terminal, Markdown and CSV tables with units, the list of assumed values), ``pareto`` (which
rows no other row beats) and ``plots`` (the benchmark figures; matplotlib is optional).  Nothing here runs
an estimate: :mod:`archsim.explore` computes, this folder shows.
"""
