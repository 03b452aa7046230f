"""Step 2 of the flow: a :class:`Workload` on an :class:`Architecture` becomes a :class:`Mapping`.

Each weighted layer's matrix is cut into arrays (row blocks x column blocks x bit slices x pair),
the arrays are grouped into tiles, spare tiles replicate the slowest stages, tiles are placed on the
mesh and the traffic between producer and consumer layers is counted.  No energy here.
"""
