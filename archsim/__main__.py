"""``python -m archsim``: the same as the ``archsim`` command."""
import sys

from archsim.cli.main import main

sys.exit(main())
