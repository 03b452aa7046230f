"""Headless Chromium for the report tests (not a test module): open a local HTML file and report what the
page did, through the DevTools protocol over a pipe (``--remote-debugging-pipe``: no port, no network).

:func:`open_page` starts a fresh browser (its own ``--user-data-dir``, every background service off), loads
the file, waits for the load event, and returns the console errors, uncaught exceptions and browser log
errors it saw, and, for every ``<img>``, whether it finished loading and its natural width.  The script
runs through ``Runtime.evaluate``, which the page's Content-Security-Policy (no scripts) does not block.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: the Debian package's binary names, in the order tried
BINARIES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio")


def find_chromium() -> str | None:
    for b in BINARIES:
        p = shutil.which(b)
        if p:
            return p
    return None


class _Pipe:
    """The DevTools protocol over two pipes: JSON messages ended by NUL."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float):
        self.w, self.r, self.deadline = write_fd, read_fd, deadline
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str) -> dict:
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self._read()
            self.events.append(m)
            if m.get("method") == method:
                return m

    def _read(self) -> dict:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)


def open_page(path: Path, timeout_s: float = 60.0) -> dict:
    """Load ``path`` in headless Chromium; return ``{"errors": [...], "images": [[complete, naturalWidth,
    alt], ...], "title": ...}``."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def child_fds():   # the browser reads commands on fd 3 and writes answers on fd 4
        import fcntl
        a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)     # out of the way of 3 and 4 first
        b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    with tempfile.TemporaryDirectory(prefix="archsim-chromium-") as profile:
        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                                 "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=child_fds, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        try:
            cdp = _Pipe(to_chrome_w, from_chrome_r, time.monotonic() + timeout_s)
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                cdp.send(f"{domain}.enable", session=session)
            cdp.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
            cdp.wait_event("Page.loadEventFired")
            images = cdp.send("Runtime.evaluate", {
                "expression": "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])",
                "returnByValue": True}, session=session)["result"]["value"]
            title = cdp.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                             session=session)["result"]["value"]
            errors = []
            for m in cdp.events:
                p = m.get("params", {})
                if m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                        for a in p.get("args", [])))
                elif m.get("method") == "Runtime.exceptionThrown":
                    errors.append("exception: " + str(p.get("exceptionDetails", {}).get("text")))
                elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    errors.append("log: " + str(p["entry"].get("text")))
            try:
                cdp.send("Browser.close")
            except (RuntimeError, TimeoutError):
                pass
            return {"errors": errors, "images": images, "title": title}
        finally:
            os.close(to_chrome_w)
            os.close(from_chrome_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
