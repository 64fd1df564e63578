"""Upload by a real X11 drag and drop onto the window, against SeaweedFS: the preview shows
the policy's decision, the object lands under the policy's key byte-identical, a second
version shows in the model's history with a metric diff; restore, share, delete."""

import gzip
import hashlib
import json
import os
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import os

from harness import AppTest, Weed, s3_config

V1 = {"model": "credit_risk", "accuracy": 0.91, "loss": 0.3, "epochs": 10}
V2 = {"model": "credit_risk", "accuracy": 0.935, "loss": 0.21, "epochs": 12}


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class DragAndDrop(AppTest):
    def setUp(self):
        self.bucket = self.unique("e2e-drop")
        self.config, self.extra_env = s3_config(self.bucket)
        super().setUp()
        self.cli("buckets", "create", self.bucket)

    def tearDown(self):
        self.cli("rm", "--recursive", f"{self.bucket}/", check=False)
        self.cli("buckets", "rm", self.bucket, check=False)
        super().tearDown()

    def results_file(self, name, doc):
        p = self.files / "results" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        # Over the small-files threshold, so the training-results rule uploads it (gzipped).
        p.write_text(json.dumps(doc, indent=2) + "\n" + " " * 150_000)
        return p

    def drop_and_confirm(self, path):
        s = self.s
        self.drag_files(path)
        panel = s.wait_css("[data-testid=upload]")
        keys = [e.text for e in s.find_all("[data-testid=upload-key]")]
        # The policy sees a dropped file by its name (a dropped folder by its own name and
        # what is under it): as `explain` does from the file's folder.
        explained = self.cli_json("explain", path.name, cwd=path.parent)
        policy_key = explained["files"][0]["key"]
        self.assertEqual(keys, [policy_key], panel.text)
        self.shot(f"upload-preview-{path.stem}")
        s.find("[data-testid=confirm-upload]").click()
        s.wait("the upload to finish", lambda: s.find_all("[data-testid=upload-row].done"))
        self.shot(f"upload-done-{path.stem}")
        s.find("[data-testid=close-upload]").click()
        return policy_key

    def test_a_dragged_file_is_stored_under_the_policy_key_and_a_second_version_diffs(self):
        s = self.s
        v1 = self.results_file("credit_risk_results_v1.json", V1)
        key1 = self.drop_and_confirm(v1)

        # The object is in the bucket under that key, byte-identical.
        back = self.tmp / "back-v1.json"
        self.cli("get", f"{self.bucket}/{key1}", str(back))
        self.assertEqual(sha(back), sha(v1))

        # The Library shows it, from the catalog.
        name = s.wait("the new row", lambda: s.text_of("[data-testid=row-name]"))
        self.assertIn("credit_risk_results", name)

        v2 = self.results_file("credit_risk_results_v2.json", V2)
        self.drop_and_confirm(v2)
        s.wait("two versions", lambda: "2" in (s.text_of("[data-testid=row] .narrow") or ""))
        self.shot("library-after-two-versions")

        # Open it from the keyboard; both versions, newest first, and the metric diff.
        s.find("[data-testid=library-rows]").click()
        s.keys("\ue007")
        s.wait_css("[data-testid=detail]")
        versions = s.wait("both versions", lambda: len(s.find_all("[data-testid=version]")) == 2 and s.find_all("[data-testid=version]"))
        self.assertTrue(versions[0].text.startswith("v2"), versions[0].text)
        self.assertTrue(versions[1].text.startswith("v1"), versions[1].text)
        diff = s.wait_css("[data-testid=diff]")
        s.wait("the diff rows", lambda: "accuracy" in diff.text)
        cells = s.js("return [...document.querySelectorAll('[data-testid=diff] tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()))")
        rows = {r[0]: r for r in cells}
        self.assertEqual(rows["accuracy"][1:], ["0.91", "0.935", "+0.025"], diff.text)
        self.assertEqual(rows["loss"][3], "−0.09", diff.text)
        self.assertIn(sha(v2), s.text_of("[data-testid=sha256]"))
        self.shot("detail-with-diff")

        # Restore the latest version into a folder: the same bytes.
        out = self.tmp / "restored"
        out.mkdir()
        folder = s.find("[data-testid=folder]")
        folder.type(str(out))
        s.find("[data-testid=restore]").click()
        s.wait("the restore", lambda: s.find_all("[data-testid=notice]"))
        self.assertEqual(sha(out / "credit_risk_results_v2.json"), sha(v2))

        # Share: a link that serves the bytes, then expires.
        s.find("[data-testid=expiry] option[value=custom]").click()
        custom = s.wait_css("[data-testid=custom-expiry]")
        custom.clear()
        custom.type("3s")
        s.find("[data-testid=share]").click()
        url = s.wait("the link", lambda: s.find_all("[data-testid=share-url]") and s.find("[data-testid=share-url]").prop("value"))
        with urllib.request.urlopen(url) as r:
            self.assertEqual(r.status, 200)
            # The stored object: gzipped by the policy, so the link serves the `.gz`.
            self.assertEqual(hashlib.sha256(gzip.decompress(r.read())).hexdigest(), sha(v2))
        time.sleep(5)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url)
        self.assertIn(refused.exception.code, (400, 403))

        # Delete v1 with its confirmation; the catalog and the bucket lose it.
        s.find_all("[data-testid=version]")[1].click()
        s.find("[data-testid=delete]").click()
        confirm = s.wait_css("[data-testid=confirm]")
        self.assertIn(key1, confirm.text)
        self.shot("delete-confirmation")
        s.find("[data-testid=confirm-delete]").click()
        s.wait("one version left", lambda: len(s.find_all("[data-testid=version]")) == 1)
        listed = self.cli_json("ls", f"{self.bucket}/", "--recursive")
        keys = [o["name"] for o in listed["entries"]]
        self.assertNotIn(key1, keys)
        versions = self.cli_json("versions", "credit_risk_results")["versions"]
        self.assertEqual([v["version"] for v in versions], ["v2"])


if __name__ == "__main__":
    unittest.main()


class FolderAndOutage(AppTest):
    """A dropped folder keeps its name and subfolders; an upload that fails because the
    server is down shows the app layer's error and succeeds on retry once it is back."""

    def setUp(self):
        self.bucket = self.unique("e2e-outage")
        self.weed = None
        self.start_app = False
        super().setUp()
        self.weed = Weed(self.tmp / "weed")
        config, env = s3_config(self.bucket, self.weed.endpoint)
        (self.tmp / "stowage/config/config.toml").write_text(config)
        self.env.update(env)
        self.cli("buckets", "create", self.bucket)
        self.launch()

    def tearDown(self):
        super().tearDown()
        if self.weed:
            self.weed.stop()

    def test_a_dropped_folder_keeps_its_layout_and_a_failed_upload_retries(self):
        s = self.s
        run = self.files / "session-42"
        (run / "checkpoints").mkdir(parents=True)
        a = run / "checkpoints" / "model-epoch-3.pt"
        b = run / "metrics_results.json"
        a.write_bytes(os.urandom(300_000))
        b.write_text(json.dumps({"accuracy": 0.8}) + " " * 120_000)

        self.weed.stop()
        self.drag_files(run)
        s.wait_css("[data-testid=upload]")
        names = s.js("return [...document.querySelectorAll('[data-testid=upload-row]')].map(r => r.cells[0].innerText.trim())")
        self.assertEqual(names, ["session-42/checkpoints/model-epoch-3.pt", "session-42/metrics_results.json"])
        keys = [e.text for e in s.find_all("[data-testid=upload-key]")]
        self.assertTrue(all("session-42/" in k for k in keys), keys)
        s.find("[data-testid=confirm-upload]").click()
        s.wait("the failures", lambda: len(s.find_all("[data-testid=upload-row].failed")) == 2, timeout=240)
        error = s.find("[data-testid=upload] [data-testid=error]").text
        # The app layer's message: the file, the provider, the next step; and a Retry.
        self.assertIn("model-epoch-3.pt", error)
        self.assertIn(f"127.0.0.1:{self.weed.s3_port}", error)
        self.assertIn("Next:", error)
        self.shot("upload-failed-server-down")
        # Nothing was recorded for what was not stored.
        self.assertEqual(self.cli_json("versions")["versions"], [])

        self.weed.start()
        for button in s.find_all("[data-testid=retry-upload]"):
            button.click()
        s.wait("the retried uploads", lambda: len(s.find_all("[data-testid=upload-row].done")) == 2, timeout=240)
        self.shot("upload-retried")
        back = self.tmp / "back.pt"
        self.cli("get", f"{self.bucket}/{keys[0]}", str(back))
        self.assertEqual(sha(back), sha(a))
        stored = {l["key"] for v in self.cli_json("versions")["versions"] for l in v["locations"]}
        # Each under its previewed key (`.gz` appended where it was gzipped).
        self.assertEqual(len(stored), 2, stored)
        for k in keys:
            self.assertTrue(stored & {k, k + ".gz"}, (k, stored))
