"""The desktop app under test: the real built binary in a real WebView (WebKitGTK) on a
private X display, driven over WebDriver (WebKitWebDriver), each test with its own HOME,
XDG folders and Stowage folders. A screenshot of each test's last screen is kept."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid
from pathlib import Path

from webdriver import Session

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
APP = Path(os.environ.get("STOWAGE_APP_BIN", TARGET / "debug" / "stowage-app"))
CLI = Path(os.environ.get("STOWAGE_CLI_BIN", TARGET / "debug" / "stowage"))
# The drag source needs GTK's Python bindings: Debian's python3 with python3-gi.
GTK_PYTHON = os.environ.get("STOWAGE_GTK_PYTHON", "/usr/bin/python3")
SCREENS = Path(os.environ.get("STOWAGE_E2E_SCREENS", TARGET / "e2e-screens"))

_display = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def display():
    """One Xvfb for the whole run (1280x1024, no TCP), stopped at exit."""
    global _display
    if _display:
        return _display
    if os.environ.get("STOWAGE_E2E_DISPLAY"):
        _display = os.environ["STOWAGE_E2E_DISPLAY"]
        return _display
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    import atexit

    atexit.register(proc.terminate)
    _display = f":{n}"
    return _display


class AppTest(unittest.TestCase):
    """Each test: a fresh home, the app started through WebDriver, torn down after."""

    #: Extra config.toml text for the test's Stowage (profiles, [sync]).
    config = ""
    #: Extra environment for the app and the CLI.
    extra_env: dict = {}
    #: Start the app in setUp (tests that seed a catalog first set this False).
    start_app = True
    #: The app binary (the installed package's, for the package test).
    app = APP

    def setUp(self):
        if not self.app.exists():
            self.fail(f"{self.app} is missing: build it with `cargo build -p stowage-app` (after `npm run build` in ui/)")
        self.tmp = Path(tempfile.mkdtemp(prefix="stowage-e2e-"))
        home = self.tmp / "home"
        self.files = self.tmp / "files"
        for d in ["home/.config", "home/.local/share", "home/.cache", "runtime", "files", "stowage/config", "stowage/data", "stowage/cache"]:
            (self.tmp / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmp / "runtime", 0o700)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STOWAGE_", "AWS_", "SUPABASE_", "XDG_"))
        }
        self.env.update(
            {
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "XDG_RUNTIME_DIR": str(self.tmp / "runtime"),
                "STOWAGE_CONFIG_DIR": str(self.tmp / "stowage/config"),
                "STOWAGE_DATA_DIR": str(self.tmp / "stowage/data"),
                "STOWAGE_CACHE_DIR": str(self.tmp / "stowage/cache"),
                "DISPLAY": display(),
                "TAURI_WEBVIEW_AUTOMATION": "true",
                "AWS_EC2_METADATA_DISABLED": "true",
                "NO_AT_BRIDGE": "1",
            }
        )
        self.env.update(self.extra_env)
        if self.config:
            (self.tmp / "stowage/config/config.toml").write_text(self.config)
        self.driver = None
        self.s = None
        if self.start_app:
            self.launch()

    def launch(self, args=()):
        port = free_port()
        self.driver_log = open(self.tmp / "driver.log", "wb")
        self.driver = subprocess.Popen(
            ["WebKitWebDriver", f"--port={port}", "--host=127.0.0.1"],
            env=self.env,
            cwd=self.files,
            stdout=self.driver_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        caps = {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": str(self.app), "args": list(args)}}}
        self.s = Session(f"http://127.0.0.1:{port}", caps)
        self.s.wait_css("main")
        return self.s

    def tearDown(self):
        name = self.id().split(".", 1)[-1]
        if self.s:
            try:
                SCREENS.mkdir(parents=True, exist_ok=True)
                self.s.screenshot(SCREENS / f"{name}.png")
            except Exception as e:  # a failed screenshot must not hide the test's own failure
                print(f"screenshot of {name} failed: {e}")
            self.s.quit()
        if self.driver:
            try:
                os.killpg(self.driver.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.driver.wait(timeout=10)
            self.driver_log.close()
        subprocess.run(["pkill", "-f", f"stowage-app.*{self.tmp}"], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # The CLI, on the same folders: to seed and to check what the app did.
    def cli(self, *args, check=True, cwd=None):
        r = subprocess.run([str(CLI), *args], env=self.env, cwd=cwd or self.files, capture_output=True, text=True)
        if check and r.returncode != 0:
            self.fail(f"stowage {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def cli_json(self, *args, cwd=None):
        return json.loads(self.cli("--json", *args, cwd=cwd).stdout)

    def shot(self, name):
        """Keep a screenshot of this screen (CI keeps the folder)."""
        SCREENS.mkdir(parents=True, exist_ok=True)
        self.s.screenshot(SCREENS / f"{name}.png")

    # Real X11 drag and drop: a GTK drag source and xdotool.
    def drag_files(self, *paths):
        uris = [Path(p).resolve().as_uri() for p in paths]
        src = subprocess.Popen(
            [GTK_PYTHON, str(Path(__file__).with_name("drag_source.py")), "1040", "880", *uris],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = src.stdout.readline()
            self.assertEqual(line.strip(), "ready", src.stderr.read() if src.poll() is not None else "")
            xdo = lambda *a: subprocess.run(["xdotool", *a], env=self.env, check=True)  # noqa: E731
            xdo("mousemove", "1100", "920")
            time.sleep(0.2)
            xdo("mousedown", "1")
            # Small steps: GTK starts a drag only after the pointer moves past a threshold.
            for i in range(1, 41):
                x = 1100 - int(i * (1100 - 600) / 40)
                y = 920 - int(i * (920 - 400) / 40)
                xdo("mousemove", str(x), str(y))
                time.sleep(0.03)
            time.sleep(0.3)
            xdo("mouseup", "1")
            src.wait(timeout=20)
        finally:
            if src.poll() is None:
                src.kill()

    @staticmethod
    def unique(prefix):
        return f"{prefix}-{uuid.uuid4().hex[:10]}"


def s3_config(bucket, endpoint=None):
    """config.toml text and environment for a profile on the test S3 server (SeaweedFS),
    uploads by policy going to `bucket`."""
    endpoint = endpoint or os.environ.get("STOWAGE_TEST_S3_ENDPOINT", "http://127.0.0.1:8333")
    config = (
        'default_profile = "seaweed"\n\n[profiles.seaweed]\nkind = "s3"\n'
        f'endpoint = "{endpoint}"\nregion = "us-east-1"\npath_style = true\n\n'
        f'[sync]\nbucket = "{bucket}"\n'
    )
    env = {
        "AWS_ACCESS_KEY_ID": os.environ.get("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    }
    return config, env


class Weed:
    """A private SeaweedFS (`weed mini`) on free ports, for tests that stop the server."""

    FLAGS = [
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
        "debug.port", "s3.debug.port", "admin.port", "admin.port.grpc", "webdav.port",
    ]

    def __init__(self, folder):
        self.bin = os.environ.get("STOWAGE_TEST_WEED_BIN") or shutil.which("weed")
        if not self.bin:
            raise RuntimeError("no `weed` binary: run through scripts/test, which sets STOWAGE_TEST_WEED_BIN")
        self.dir = Path(folder)
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        ak = os.environ.get("STOWAGE_TEST_S3_ACCESS_KEY", "testak")
        sk = os.environ.get("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123")
        (self.dir / "s3.json").write_text(json.dumps({"identities": [{"name": "admin", "credentials": [{"accessKey": ak, "secretKey": sk}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        ports = []
        while len(ports) < len(self.FLAGS):
            p = free_port()
            if p not in ports:
                ports.append(p)
        self.s3_port = ports[self.FLAGS.index("s3.port")]
        self.args = ["mini", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={self.dir / 's3.json'}", "-webdav=false", "-admin.ui=false"]
        self.args += [f"-{f}={p}" for f, p in zip(self.FLAGS, ports)]
        self.proc = None
        self.start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self):
        log = open(self.dir / "weed.log", "ab")
        self.proc = subprocess.Popen([self.bin, *self.args], stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.s3_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("SeaweedFS did not start: " + (self.dir / "weed.log").read_text()[-2000:])
                time.sleep(0.1)
        time.sleep(2)  # the volume server registers with the master

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
