"""Presenting results: ``tables`` (terminal, Markdown and CSV tables with units, the list of assumed
values) and ``plots`` (the benchmark tables and figures; matplotlib is optional).
"""
