"""The bottom of the flow: what is being built and what runs on it, as plain frozen data.

``workload`` (the network graph of :class:`Layer` records and :class:`GraphBuilder`), ``arch`` (the
:class:`Architecture`: every key with its unit, range and meaning), ``presets`` (published
architectures with the figures they should meet) and ``errors`` (the one-line user error).  Nothing
here knows about tiles, energy or noise; every later step reads these objects.
"""
