"""The ``archsim`` command line, one module per command group.

``main`` builds the parser and runs a command; ``args`` turns the arguments the commands share into the
flow's objects (architecture, network, data, simulation settings); ``design`` holds the commands on one
design (list, estimate, compare, export), ``accuracy`` the Monte Carlo accuracy command and ``explore``
the commands over many designs (validate, sweep, size, bench).  Bad input prints one line and exits with
status 2.
"""
