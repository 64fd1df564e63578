"""Auto-sync in the window, against a private SeaweedFS: a registered project folder is
watched by the app itself; a model written there is stored by policy and shows in the
Library; with the server stopped the sync view shows the provider down and the file waiting;
started again, the file is uploaded and verified. A `stowage watch` already running is shown,
not doubled."""

import fcntl
import hashlib
import os
import subprocess
import time
import unittest

from harness import CLI, AppTest, Weed, s3_config


def sha(data):
    return hashlib.sha256(data).hexdigest()


class AutoSync(AppTest):
    start_app = False

    def setUp(self):
        self.bucket = self.unique("e2e-sync")
        self.weed = None
        super().setUp()
        self.weed = Weed(self.tmp / "weed")
        config, env = s3_config(self.bucket, self.weed.endpoint)
        (self.tmp / "stowage/config/config.toml").write_text(config + '\n[watch]\nsettle = "1s"\n')
        self.env.update(env)
        self.cli("buckets", "create", self.bucket)
        self.project = self.files / "project"
        (self.project / ".beast-mode" / "models").mkdir(parents=True)

    def tearDown(self):
        super().tearDown()
        if self.weed:
            self.weed.stop()

    def invoke(self, cmd, args):
        return self.s.js_async(
            "const [cmd, args, done] = arguments;"
            "window.__TAURI_INTERNALS__.invoke(cmd, args).then(r => done({ ok: r }), e => done({ err: e }));",
            cmd,
            args,
        )

    def lock_held(self):
        try:
            with open(self.tmp / "stowage/data/watch.lock") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(f, fcntl.LOCK_UN)
                return False
        except FileNotFoundError:
            return False

    def watcher_state(self):
        return self.s.js("const w = document.querySelector('[data-testid=watcher]'); return w && w.dataset.state")

    def test_a_watched_folder_syncs_and_waits_out_an_outage(self):
        self.launch()
        s = self.s
        s.find("[data-testid=nav-sync]").click()
        s.wait("the sync view", lambda: self.watcher_state() == "stopped")
        # The folder dialog is the platform's; the command behind it is what it calls.
        r = self.invoke("add_folder", {"path": str(self.project), "org": None})
        self.assertIn("ok", r, r)
        s.wait("the watcher", lambda: self.watcher_state() == "here")
        self.assertIn(".beast-mode", s.text_of("[data-testid=folders]"))
        self.shot("sync-watching")

        model = self.project / ".beast-mode" / "models" / "churn-v1.pt"
        data = os.urandom(400_000)
        model.write_bytes(data)
        s.wait("the upload", lambda: s.find_all(f"[data-testid=queue] tr[data-state=done][data-path='{model}']"), timeout=120)
        s.find("[data-testid=nav-library]").click()
        s.wait("the Library row", lambda: "churn" in s.text_of("[data-testid=library-rows]"), timeout=30)
        key = next(l["key"] for v in self.cli_json("versions")["versions"] for l in v["locations"] if "churn" in l["key"])
        back = self.tmp / "back.pt"
        self.cli("get", f"{self.bucket}/{key}", str(back))
        self.assertEqual(sha(back.read_bytes()), sha(data))

        # The server goes away: the provider shows down and the next file waits for it.
        self.weed.stop()
        second = self.project / ".beast-mode" / "models" / "churn-v2.pt"
        data2 = os.urandom(300_000)
        second.write_bytes(data2)
        s.find("[data-testid=nav-sync]").click()
        s.wait("the provider down", lambda: s.find_all("[data-testid=health] li[data-up=false]"), timeout=180)
        s.wait("the file waiting", lambda: s.find_all(f"[data-testid=queue] tr[data-state=queued][data-path='{second}']"), timeout=60)
        self.assertIn("down", s.text_of("[data-testid=health]"))
        self.shot("sync-provider-down")

        self.weed.start()
        s.wait("the upload after the outage", lambda: s.find_all(f"[data-testid=queue] tr[data-state=done][data-path='{second}']"), timeout=300)
        s.wait("the provider up", lambda: not s.find_all("[data-testid=health] li[data-up=false]"), timeout=60)
        self.shot("sync-recovered")
        key2 = next(l["key"] for v in self.cli_json("versions")["versions"] for l in v["locations"] if "churn-v2" in l["key"])
        back2 = self.tmp / "back-2.pt"
        self.cli("get", f"{self.bucket}/{key2}", str(back2))
        self.assertEqual(sha(back2.read_bytes()), sha(data2))

    def test_a_running_stowage_watch_is_shown_not_doubled(self):
        cli = subprocess.Popen([str(CLI), "watch", str(self.project)], env=self.env, cwd=self.files, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not self.lock_held():
                if time.monotonic() > deadline or cli.poll() is not None:
                    self.fail("stowage watch did not start: " + (cli.stderr.read() if cli.poll() is not None else ""))
                time.sleep(0.2)
            self.launch()
            s = self.s
            s.find("[data-testid=nav-sync]").click()
            s.wait("the other watcher", lambda: self.watcher_state() == "elsewhere")
            self.assertIn(f"process {cli.pid}", s.text_of("[data-testid=watcher]"))
            self.shot("sync-elsewhere")
        finally:
            cli.terminate()
            cli.wait(timeout=30)


if __name__ == "__main__":
    unittest.main()
