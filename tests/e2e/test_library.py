"""The Library: first run, the upload by a real drag and drop, a model's history."""

import subprocess
import unittest

from harness import APP, AppTest


class FirstRun(AppTest):
    def test_first_run_on_the_local_store_explains_how_to_start(self):
        s = self.s
        empty = s.wait_css("[data-testid=empty]")
        self.assertIn("Drop a dataset, a model or a results file", empty.text)
        self.assertEqual(s.text_of("[data-testid=count]"), "0 artifacts")
        self.shot("first-run")

    def test_a_second_launch_hands_its_files_to_the_first_window(self):
        s = self.s
        s.wait_css("[data-testid=empty]")
        f = self.files / "model-handover-v1.pt"
        f.write_bytes(b"w" * 200_000)
        # As a file manager's "Open with Stowage" would: the second process hands the path
        # over and exits; the running window shows the upload preview.
        second = subprocess.run([str(APP), str(f)], env=self.env, cwd=self.files, timeout=60, capture_output=True)
        self.assertEqual(second.returncode, 0, second.stderr)
        s.wait_css("[data-testid=upload]")
        names = s.js("return [...document.querySelectorAll('[data-testid=upload-row]')].map(r => r.cells[0].innerText.trim())")
        self.assertEqual(names, ["model-handover-v1.pt"])
        s.find("[data-testid=confirm-upload]").click()
        s.wait("the upload", lambda: s.find_all("[data-testid=upload-row].done"))
        s.find("[data-testid=close-upload]").click()
        # On the embedded local store, recorded in the catalog the Library shows.
        s.wait("the row", lambda: s.text_of("[data-testid=count]") == "1 artifact")
        versions = self.cli_json("versions")["versions"]
        self.assertEqual([(v["artifact"], v["locations"][0]["profile"]) for v in versions], [("models/model-handover.pt", "local")])
        self.shot("handover-uploaded")


if __name__ == "__main__":
    unittest.main()
