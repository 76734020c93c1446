"""Render a local HTML page in headless Chromium over the DevTools protocol (pipe transport).

``render_page(html, screenshot)`` opens the page, waits for it to load, and returns the console
errors and uncaught exceptions, the images that failed to load, and writes a full-page PNG
screenshot. The protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
NUL-separated JSON messages), so no websocket library or network port is needed.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from base64 import b64decode
from pathlib import Path
from typing import Any

BROKEN_IMAGES_JS = (
    "JSON.stringify(Array.from(document.images)"
    ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')))"
)


def chromium() -> str | None:
    """The Chromium executable (Debian package ``chromium``), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int) -> None:
        self.proc, self.w, self.r = proc, write_fd, read_fd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_one(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30):
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_one(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_one(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in events:
        p = m.get("params", {})
        if m.get("method") == "Runtime.exceptionThrown":
            out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p.get('type')}: {[a.get('value') for a in p.get('args', [])]}")
        elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
    return out


def render_page(html: Path, screenshot: Path, *, width: int = 1200, timeout: float = 60) -> dict[str, Any]:
    """Open ``html`` in headless Chromium; return ``errors``, ``broken_images``, ``n_images``."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    profile = tempfile.mkdtemp(prefix="gazelab-chromium-")
    args = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--remote-debugging-pipe",
        f"--user-data-dir={profile}",
        f"--window-size={width},900",
        "about:blank",
    ]

    log = open(os.path.join(profile, "chromium.log"), "wb")  # closed in finally
    # chromium reads commands on fd 3 and writes answers on fd 4: a shell puts the pipe ends there
    launch = ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", *args]  # dash: fds < 10 only
    proc = subprocess.Popen(
        launch,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
        pass_fds=(to_chrome_r, from_chrome_w),
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
    try:
        return _render(pipe, html, screenshot, timeout)
    except (OSError, RuntimeError, TimeoutError) as exc:
        log.flush()
        tail = Path(log.name).read_bytes()[-2000:].decode(errors="replace")
        raise RuntimeError(f"headless Chromium failed ({exc}); its log ends:\n{tail}") from exc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()
        os.close(to_chrome_w)
        os.close(from_chrome_r)
        shutil.rmtree(profile, ignore_errors=True)


def _render(pipe: _Pipe, html: Path, screenshot: Path, timeout: float) -> dict[str, Any]:
    target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        pipe.call(f"{domain}.enable", session=session)
    pipe.call("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
    pipe.wait_event("Page.loadEventFired", timeout=timeout)
    time.sleep(0.3)  # late console messages
    broken = json.loads(
        pipe.call("Runtime.evaluate", {"expression": BROKEN_IMAGES_JS, "returnByValue": True}, session=session)[
            "result"
        ]["value"]
    )
    n_images = pipe.call(
        "Runtime.evaluate", {"expression": "document.images.length", "returnByValue": True}, session=session
    )["result"]["value"]
    shot = pipe.call(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session, timeout=timeout
    )
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(b64decode(shot["data"]))
    title = pipe.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=session)
    return {
        "errors": _problems(pipe.events),
        "broken_images": broken,
        "n_images": int(n_images),
        "title": title["result"]["value"],
    }
