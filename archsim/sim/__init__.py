"""The accuracy side of the flow: what the network computes on the programmed chip.

``tilesim`` programs weight matrices onto arrays exactly as the mapping splits them and reads them
with device errors, converters and noise (Numba kernels with numpy twins); ``crossbar`` solves wire
resistance (IR drop); ``rmap`` maps matrices around it; ``forward`` runs a network with a matmul
hook; ``accuracy`` runs it over Monte Carlo trials of programmed chips; ``train`` is the numpy
trainer behind the shipped weights.
"""
