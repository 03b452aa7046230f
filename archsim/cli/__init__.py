"""The ``archsim`` command line: ``main`` (the parser and the commands on one design) and ``explore``
(sweep, size, bench).  Bad input prints one line and exits with status 2.
"""
