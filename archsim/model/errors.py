"""User-facing errors.

Every error a user can cause (bad YAML, unknown name, a layer that does not fit)
is an :class:`ArchsimError` whose message is one line naming the file, key or
layer and what is allowed.  The CLI prints it and exits with status 2.
"""


from contextlib import contextmanager


class ArchsimError(ValueError):
    """Bad input: one line, says where and what is allowed."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ParameterError(ArchsimError):
    """Bad input given as a parameter of a library call.  ``template`` holds one ``{param}`` per name in
    ``params`` (in order); the message says ``parameter 'name'`` there, and a front end words it with its own
    names (the CLI: its flags) by :meth:`worded`."""

    MARK = "{param}"

    def __init__(self, template: str, *params: str):
        self.template, self.params = template, params
        super().__init__(self._fill([f"parameter '{p}'" for p in params]))

    def _fill(self, words) -> str:
        out = self.template
        for w in words:
            out = out.replace(self.MARK, w, 1)
        return out

    def worded(self, names) -> str:
        """The message with each parameter called ``names.get(param)`` (its own words where that is None)."""
        words = [names.get(p) or f"parameter '{p}'" for p in self.params]
        return " ".join(self._fill(words).split())


@contextmanager
def naming(param: str, suffix: str = ""):
    """Inside, a check that words its error with ``where`` = :attr:`ParameterError.MARK` (a key check, a file
    check, the YAML reader) raises a :class:`ParameterError` of ``param``: the library's message names the
    parameter, a front end words it as its own (the CLI: its flag).  ``suffix`` is added to the message."""
    try:
        yield
    except ParameterError:
        raise
    except ArchsimError as exc:
        raise ParameterError(f"{exc}{suffix}", param) from None


def one_line(e, limit: int = 300) -> str:
    """The text of an exception from a library (numpy, zipfile, onnx) on one line, cut to ``limit``
    characters: what a one-line error may quote of it."""
    text = " ".join(str(e).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def brief(value, limit: int = 60, _depth: int = 0) -> str:
    """``repr(value)`` cut to ``limit`` characters, built without formatting a huge value whole.

    Containers show their first items only (and their length when long), huge integers their size,
    long strings their start: a message never grows with the input that caused it.
    """
    if isinstance(value, (bool, float)) or value is None:
        s = repr(value)
    elif isinstance(value, int):
        s = repr(value) if value.bit_length() <= 200 else f"<an integer of {value.bit_length()} bits>"
    elif isinstance(value, str):
        s = repr(value[:limit])
    elif isinstance(value, (list, tuple, dict)) and _depth >= 3:
        s = f"<{type(value).__name__} of {len(value)}>"
    elif isinstance(value, (list, tuple)):
        items = ", ".join(brief(v, 20, _depth + 1) for v in value[:4])
        more = f", ... ({len(value)} items)" if len(value) > 4 else ""
        s = ("[" + items + more + "]") if isinstance(value, list) else ("(" + items + more + ")")
    elif isinstance(value, dict):
        items = ", ".join(f"{brief(k, 20, _depth + 1)}: {brief(v, 20, _depth + 1)}" for k, v in list(value.items())[:3])
        more = f", ... ({len(value)} keys)" if len(value) > 3 else ""
        s = "{" + items + more + "}"
    else:
        s = f"<{type(value).__name__}>"
    return s if len(s) <= limit else s[:limit - 3] + "..."
