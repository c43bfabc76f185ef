"""A headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``).

No driver binary, no websocket library: Chromium reads JSON commands on fd 3 and writes replies and events,
NUL-terminated, on fd 4. Used by tests/docs to open the built pages as a reader's browser would.

    with Chromium(user_data_dir=tmp) as browser:
        browser.navigate("http://127.0.0.1:8000/index.html")
        browser.evaluate("document.title")
        browser.screenshot(Path("page.png"))
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-default-browser-check", "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--hide-scrollbars", "--disable-dev-shm-usage", "--remote-debugging-pipe"]
INSTALL_HINT = "install it with `apt-get update && apt-get install -y chromium` (or `make chromium`)"


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(f"no Chromium on PATH: {INSTALL_HINT}")


class CDPError(RuntimeError):
    pass


class Chromium:
    def __init__(self, user_data_dir: str | Path | None = None, width: int = 1400, height: int = 1000,
                 executable: str | None = None, timeout: float = 20.0):
        self.timeout = timeout
        self._tmp = None
        if user_data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="chromium-profile-")
            user_data_dir = self._tmp.name
        exe = executable or find_chromium()
        cmd_r, cmd_w = os.pipe()     # we write commands, Chromium reads fd 3
        evt_r, evt_w = os.pipe()     # Chromium writes fd 4, we read

        def child_fds():
            os.dup2(cmd_r, 3)
            os.dup2(evt_w, 4)
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=False)
        os.close(cmd_r)
        os.close(evt_w)
        self._w = os.fdopen(cmd_w, "wb", buffering=0)
        self._r = os.fdopen(evt_r, "rb", buffering=0)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- protocol -------------------------------------------------------------------------------------------
    def _read(self):
        buf = b""
        while True:
            chunk = self._r.read(65536)
            if not chunk:
                break
            buf += chunk
            *msgs, buf = buf.split(b"\0")
            with self._cv:
                for raw in msgs:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cv.notify_all()
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        with self._cv:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cv:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self, "_closed", False):
                    raise CDPError(f"{method}: no reply within {self.timeout} s")
                self._cv.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, since: int, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cv:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and ev.get("sessionId") == self.session:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"no {method} within {timeout or self.timeout} s")
                self._cv.wait(left)

    # -- what a test needs ----------------------------------------------------------------------------------
    def navigate(self, url: str) -> int:
        """Load ``url`` and wait for its load event; returns the index of its first event in ``events``."""
        with self._cv:
            mark = len(self.events)
        res = self.send("Page.navigate", {"url": url})
        if res.get("errorText"):
            raise CDPError(f"{url}: {res['errorText']}")
        self.wait_event("Page.loadEventFired", mark)
        return mark

    def evaluate(self, expression: str, await_promise: bool = True):
        res = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": await_promise,
                                             "returnByValue": True})
        if "exceptionDetails" in res:
            raise CDPError(f"evaluate: {res['exceptionDetails'].get('exception', {}).get('description')}")
        return res["result"].get("value")

    def console_errors(self, since: int = 0) -> list[str]:
        """Console errors, uncaught exceptions and failed loads logged since event ``since``."""
        out = []
        with self._cv:
            evs = list(self.events[since:])
        for ev in evs:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + str(d.get("exception", {}).get("description") or d.get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                out.append(f"log: {e.get('text')} {e.get('url', '')}".strip())
        return out

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            h = self.evaluate("document.documentElement.scrollHeight")
            w = self.evaluate("document.documentElement.clientWidth")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        data = self.send("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self._w, self._r):
            try:
                f.close()
            except OSError:
                pass
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
