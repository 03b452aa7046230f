"""Steps 3 and 4 of the flow: what a :class:`Mapping` costs.

``price`` turns a mapping into an :class:`Estimate` (energy and area by component, per layer and for
the chip; timing from ``pipeline``; TOPS, TOPS/W, TOPS/mm2); ``peak`` composes a chip's peak power,
area and throughput from the same components.  Every number comes from ``techlib``.
"""
