"""A small W3C WebDriver client over plain HTTP (WebKitWebDriver speaks it directly)."""

import base64
import json
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

KEYS = {
    "enter": "\ue007",
    "escape": "\ue00c",
    "tab": "\ue004",
    "up": "\ue013",
    "down": "\ue015",
    "delete": "\ue017",
    "shift": "\ue008",
    "f10": "\ue03a",
    "backspace": "\ue003",
}


class WebDriverError(Exception):
    pass


class Session:
    def __init__(self, url, capabilities, attempts=60):
        self.url = url.rstrip("/")
        last = None
        for _ in range(attempts):
            try:
                value = self._call("POST", "/session", {"capabilities": capabilities})
                self.id = value["sessionId"]
                return
            except (urllib.error.URLError, ConnectionError) as e:
                last = e
                time.sleep(0.25)
        raise WebDriverError(f"no WebDriver session at {url}: {last}")

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            payload = e.read().decode(errors="replace")
            raise WebDriverError(f"{method} {path}: HTTP {e.code}: {payload[:500]}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.id}")
        except Exception:
            pass

    # Scripts
    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def frames(self, n=2):
        """Wait for `n` animation frames, so the screen shows the last DOM change."""
        self.js_async(
            "const done = arguments[arguments.length - 1];"
            f"let n = {n}; const f = () => (--n <= 0 ? done(true) : requestAnimationFrame(f));"
            "requestAnimationFrame(f);"
        )

    # Elements
    def find(self, css):
        v = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, v[ELEMENT])

    def find_all(self, css):
        v = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, e[ELEMENT]) for e in v]

    def wait(self, what, predicate, timeout=60.0, every=0.1):
        """Poll `predicate` until it returns something truthy; fail naming `what`."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                v = predicate()
                if v:
                    return v
            except WebDriverError as e:
                last = e
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))

    def wait_css(self, css, timeout=60.0):
        return self.wait(f"`{css}`", lambda: self.find_all(css) and self.find(css), timeout)

    def text_of(self, css):
        return self.js(f"const e = document.querySelector({json.dumps(css)}); return e ? e.innerText : null;")

    def keys(self, text):
        """Type into whatever has focus (key actions, as a keyboard would)."""
        actions = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": actions}]})

    def chord(self, *keys):
        down = [{"type": "keyDown", "value": k} for k in keys]
        up = [{"type": "keyUp", "value": k} for k in reversed(keys)]
        self.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": down + up}]})

    def screenshot(self, path):
        self.frames()
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)


class Element:
    def __init__(self, session, eid):
        self.s = session
        self.id = eid

    def click(self):
        self.s.cmd("POST", f"/element/{self.id}/click", {})

    def type(self, text):
        self.s.cmd("POST", f"/element/{self.id}/value", {"text": text})

    def clear(self):
        self.s.cmd("POST", f"/element/{self.id}/clear", {})

    @property
    def text(self):
        return self.s.cmd("GET", f"/element/{self.id}/text")

    def prop(self, name):
        return self.s.cmd("GET", f"/element/{self.id}/property/{name}")
