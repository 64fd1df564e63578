"""The app against the Supabase Storage contract server: a dropped model is stored under the
policy's key, byte-identical, shown in the Library, and shared by a signed link."""

import hashlib
import subprocess
import unittest
import urllib.request

from harness import TARGET, AppTest

CONTRACT = TARGET / "debug" / "supabase-contract"


class Supabase(AppTest):
    start_app = False

    def setUp(self):
        super().setUp()
        (self.tmp / "contract").mkdir()
        self.server = subprocess.Popen(
            [str(CONTRACT), "--addr", "127.0.0.1:0", "--dir", str(self.tmp / "contract"), "--jwt-secret", "an-e2e-jwt-secret-of-at-least-32-characters"],
            stdout=subprocess.PIPE,
            text=True,
        )
        info = dict(self.server.stdout.readline().strip().split(": ", 1) for _ in range(3))
        self.bucket = self.unique("e2e_supa").replace("-", "_")
        (self.tmp / "stowage/config/config.toml").write_text(
            f'default_profile = "team"\n\n[profiles.team]\nkind = "supabase"\n\n[sync]\nbucket = "{self.bucket}"\n'
        )
        self.env.update({"SUPABASE_URL": info["url"], "SUPABASE_SERVICE_ROLE_KEY": info["service_role_key"]})
        self.cli("buckets", "create", self.bucket)
        self.launch()

    def tearDown(self):
        super().tearDown()
        self.server.terminate()
        self.server.wait(timeout=10)

    def test_a_dropped_model_is_stored_shown_and_shared(self):
        s = self.s
        model = self.files / "model-churn-v4.pt"
        model.write_bytes(bytes(range(251)) * 2000)
        self.drag_files(model)
        s.wait_css("[data-testid=upload]")
        key = s.find("[data-testid=upload-key]").text
        self.assertEqual(key, self.cli_json("explain", model.name, cwd=model.parent)["files"][0]["key"])
        s.find("[data-testid=confirm-upload]").click()
        s.wait("the upload", lambda: s.find_all("[data-testid=upload-row].done"))
        s.find("[data-testid=close-upload]").click()
        back = self.tmp / "back.pt"
        self.cli("get", f"{self.bucket}/{key}", str(back))
        self.assertEqual(back.read_bytes(), model.read_bytes())

        s.wait("the row", lambda: s.text_of("[data-testid=count]") == "1 artifact")
        self.assertEqual(s.text_of("[data-testid=row-name]"), "models/model-churn.pt")
        s.find("[data-testid=library-rows]").click()
        s.keys("\ue007")
        s.wait_css("[data-testid=detail]")
        self.assertIn("supabase", s.text_of("[data-testid=locations]"))
        s.find("[data-testid=share]").click()
        url = s.wait("the link", lambda: s.find_all("[data-testid=share-url]") and s.find("[data-testid=share-url]").prop("value"))
        with urllib.request.urlopen(url) as r:
            self.assertEqual(hashlib.sha256(r.read()).hexdigest(), hashlib.sha256(model.read_bytes()).hexdigest())
        self.shot("supabase-detail-shared")


if __name__ == "__main__":
    unittest.main()
