"""User-facing errors.

Every error a user can cause (bad YAML, unknown name, a layer that does not fit)
is an :class:`ArchsimError` whose message is one line naming the file, key or
layer and what is allowed.  The CLI prints it and exits with status 2.
"""


class ArchsimError(ValueError):
    """Bad input: one line, says where and what is allowed."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
