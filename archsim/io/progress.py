"""Progress bars for the commands that can take more than a few seconds: tqdm when it is installed (the
``progress`` extra) and wanted, else a bar that does nothing.  Bars go to stderr and vanish when stderr is
not a terminal (tqdm's ``disable=None``), so piped output and reports stay clean."""
from __future__ import annotations

import sys


class NoBar:
    """Stands in for a tqdm bar: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bar(total: int, desc: str, unit: str = "it", enabled: bool = True):
    """A progress bar over ``total`` steps, or a :class:`NoBar` when ``enabled`` is False or tqdm is missing."""
    if not enabled:
        return NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def track(items, desc: str, unit: str = "it", enabled: bool = True):
    """``items`` one by one, counting them on a bar (see :func:`bar`)."""
    items = list(items)
    with bar(len(items), desc, unit, enabled) as b:
        for x in items:
            yield x
            b.update(1)
