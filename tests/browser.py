"""Headless Chromium for tests, driven over the DevTools protocol with the standard library only.

`--remote-debugging-pipe` makes Chromium read protocol messages from fd 3 and write them to fd 4,
each a JSON object ending in a NUL byte: no port, no websocket client, no other package.

`visit(path)` loads a local page and tells what a test asserts about it:
- `requests`: every URL the page asked for (Network.requestWillBeSent) besides its own file,
  whether or not it got through;
- `violations`: what the page's Content-Security-Policy blocked (securitypolicyviolation events
  recorded from before the page's first script could run): a blocked fetch sends no request, so
  without this a page whose policy hides a remote reference would look clean;
- `proxied`: the request lines that reached a `RecordingProxy`, the proxy of the page's browser
  context, through which its every request goes. It answers 403 to each; the browser's own
  traffic (update checks, which some builds make whatever the flags say) goes to another one,
  and host names resolve to nothing (--host-resolver-rules), so nothing leaves the machine, even
  in a test that makes the page ask.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records each request line and refuses it (403)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    self.seen.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class DevToolsError(RuntimeError):
    pass


class Chromium:
    """One headless browser process and its DevTools pipe."""

    def __init__(self, proxy_port: int, width: int = 1280, height: int = 900,
                 timeout: float = 60) -> None:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium is not installed (./run-tests installs Debian's package)")
        self.timeout = timeout
        self.events: list[dict] = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.mkdtemp(prefix="gi-chromium-")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def place_pipes() -> None:  # in the child, before exec: the fds Chromium expects
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={self._profile}", "--no-first-run", "--no-default-browser-check",
             # Chromium's own traffic (updates, sync, safe browsing): none, on a closed network.
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
             "--disable-features=Translate,OptimizationHints,MediaRouter", "--mute-audio",
             f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--window-size={width},{height}",
             "--hide-scrollbars", "about:blank"],
            pass_fds=(3, 4), preexec_fn=place_pipes,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._out = to_chrome_w
        self._in = from_chrome_r

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise DevToolsError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise DevToolsError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, predicate, timeout: float | None = None) -> dict:
        """The first event (already received or coming) that `predicate` accepts."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            self.events.append(self._receive(deadline))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (DevToolsError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for fd in (self._out, self._in):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)


_RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.blockedURI + ' (' + e.violatedDirective + ')'));
"""


@dataclass
class Visit:
    url: str
    requests: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    proxied: list[str] = field(default_factory=list)
    result: object = None  # what `evaluate` gave


def visit(path: Path, *, evaluate: str | None = None, screenshot: Path | None = None,
          width: int = 1280) -> Visit:
    """Load the local file `path` in a fresh headless Chromium, wait until the network has
    been idle for half a second, then run `evaluate` (a JS expression; its JSON-able value)
    and take a full-page screenshot to `screenshot` (PNG)."""
    # The browser's own traffic (it phones home for updates whatever the flags say) goes to one
    # proxy, the page's (a browser context of its own) to another: `proxied` is the page's alone.
    own, proxy = RecordingProxy(), RecordingProxy()
    browser = Chromium(own.port, width=width)
    try:
        context = browser.call("Target.createBrowserContext", {
            "proxyServer": f"http://127.0.0.1:{proxy.port}", "proxyBypassList": "<-loopback>"})
        target = browser.call("Target.createTarget", {
            "url": "about:blank", "browserContextId": context["browserContextId"]})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Network.enable", "Page.enable", "Runtime.enable"):
            browser.call(method, session=session)
        browser.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
        browser.call("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_VIOLATIONS},
                     session=session)
        url = path.resolve().as_uri()
        nav = browser.call("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            raise DevToolsError(f"cannot open {url}: {nav['errorText']}")
        browser.wait_for(lambda e: e.get("method") == "Page.lifecycleEvent"
                         and e["params"]["name"] == "networkIdle"
                         and e["params"]["loaderId"] == nav["loaderId"])
        result = Visit(url)
        result.requests = [e["params"]["request"]["url"] for e in browser.events
                           if e.get("method") == "Network.requestWillBeSent"
                           and e["params"]["request"]["url"] != url]
        result.violations = _evaluate(browser, session, "window.__violations")
        if evaluate is not None:
            result.result = _evaluate(browser, session, evaluate)
        if screenshot is not None:
            size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = browser.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                         "scale": 1}}, session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()
        proxy.close()
        own.close()
    result.proxied = list(proxy.seen)
    return result


def _evaluate(browser: Chromium, session: str, expression: str):
    answer = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=session)
    if "exceptionDetails" in answer:
        raise DevToolsError(f"evaluate failed: {answer['exceptionDetails']}")
    return answer["result"].get("value")
