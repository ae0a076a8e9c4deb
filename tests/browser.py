"""Open a report in headless Chromium and check it the way a reader sees it (standard library only).

Chromium is driven with the DevTools protocol over ``--remote-debugging-pipe`` (commands on fd 3, replies
on fd 4, NUL-terminated JSON), so no port is opened and no client package is needed. :func:`inspect_page`
loads a ``file://`` URL, collects console errors, exceptions, failed loads and every request that left the
disk, reports each image's ``naturalWidth`` and takes a full-page screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TRAMPOLINE = ("import fcntl, os, sys\n"
               "a, b = int(sys.argv[1]), int(sys.argv[2])\n"
               "r, w = fcntl.fcntl(a, fcntl.F_DUPFD, 10), fcntl.fcntl(b, fcntl.F_DUPFD, 10)\n"
               "os.close(a)\nos.close(b)\nos.dup2(r, 3)\nos.dup2(w, 4)\nos.close(r)\nos.close(w)\n"
               "os.execv(sys.argv[3], sys.argv[3:])")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    """Path of a Chromium / Chrome executable on PATH, or ``None``."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


@dataclass
class PageCheck:
    """What the browser saw."""

    console_errors: list[str] = field(default_factory=list)  # console.error, uncaught exceptions, log errors
    requests: list[str] = field(default_factory=list)  # every URL the page requested
    images: list[dict[str, Any]] = field(default_factory=list)  # src, complete, naturalWidth, naturalHeight
    title: str = ""
    text: str = ""  # document.body.innerText
    screenshot: bytes = b""  # PNG
    value: Any = None  # what the ``evaluate`` expression returned (JSON)
    #: the page as it opens, every ``<details>`` closed: the first window-sized screenshot (PNG), the page
    #: height, and where the answer block's parts lie (CSS px from the top; ``None`` where absent)
    first_screen: bytes = b""
    closed: dict[str, Any] = field(default_factory=dict)


#: where the answer's parts lie on the page as it opens (every fold closed)
CLOSED_JS = """JSON.stringify((() => {
  const box = sel => { const e = document.querySelector(sel); if (!e) return null;
                       const r = e.getBoundingClientRect(); return {top: r.top + scrollY, bottom: r.bottom + scrollY}; };
  return {height: document.documentElement.scrollHeight, sentence: box('#answer .answer-sentence'),
          figure: box('#answer figure img'), folds: document.querySelectorAll('details').length};
})())"""


class Chromium:
    """A headless Chromium with a DevTools session over pipes; use as a context manager."""

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 900) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise FileNotFoundError("no chromium executable on PATH (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="oocbench-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        self._res_r, res_w = os.pipe()  # chromium writes fd 4, we read replies
        args = [exe, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"]
        # a tiny trampoline moves our pipe ends to fds 3 and 4 (where the protocol expects them), then becomes
        # chromium; copies go above 9 first so neither end is overwritten if it already sits on 3 or 4
        self.proc = subprocess.Popen([sys.executable, "-c", _TRAMPOLINE, str(cmd_r), str(res_w), *args],
                                     pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.width, self.height = width, height

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must not mask the real error
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.stderr else ""
                    raise RuntimeError(f"chromium closed the DevTools pipe: {err}")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile go to :attr:`events`."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the first event named ``method`` (already received or not)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def inspect(self, url: str, settle_s: float = 0.5, evaluate: str = "") -> PageCheck:
        """Load ``url`` in a fresh tab and return what was seen (see :class:`PageCheck`); ``evaluate``: a
        JavaScript expression whose JSON-serialisable value is returned as :attr:`PageCheck.value`."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", timeout=60)
        time.sleep(settle_s)  # late console messages
        check = PageCheck()
        check.closed = json.loads(self.send("Runtime.evaluate", {"expression": CLOSED_JS, "returnByValue": True},
                                            session=session)["result"]["value"])
        check.first_screen = base64.b64decode(self.send("Page.captureScreenshot", {
            "format": "png", "clip": {"x": 0, "y": 0, "width": self.width, "height": self.height, "scale": 1}},
            session=session, timeout=60)["data"])
        # the checks below read the whole page, as a reader who opens every fold sees it
        self.send("Runtime.evaluate", {"expression": "document.querySelectorAll('details').forEach(d => d.open = true)"},
                  session=session)
        js = ("JSON.stringify({title: document.title, text: document.body ? document.body.innerText : '',"
              " images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt'),"
              " complete: i.complete,"
              " naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))})")
        value = json.loads(self.send("Runtime.evaluate", {"expression": js, "returnByValue": True},
                                     session=session)["result"]["value"])
        check.title, check.text, check.images = value["title"], value["text"], value["images"]
        if evaluate:
            check.value = json.loads(self.send("Runtime.evaluate", {
                "expression": f"JSON.stringify({evaluate})", "returnByValue": True}, session=session)["result"]["value"])
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}},
            session=session, timeout=60)
        check.screenshot = base64.b64decode(shot["data"])
        for ev in self.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                check.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                     for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                check.console_errors.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                check.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                check.requests.append(p.get("request", {}).get("url", ""))
            elif method == "Network.loadingFailed":
                check.console_errors.append(f"load failed: {p.get('errorText')}")
        self.events.clear()
        self.send("Target.closeTarget", {"targetId": target})
        return check


def inspect_page(path: str | Path, executable: str | None = None, width: int = 1280, evaluate: str = "") -> PageCheck:
    """Open ``path`` (a local HTML file) in headless Chromium; see :class:`PageCheck` and :meth:`Chromium.inspect`."""
    with Chromium(executable, width=width) as browser:
        return browser.inspect(Path(path).resolve().as_uri(), evaluate=evaluate)
