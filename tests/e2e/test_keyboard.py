"""Keyboard only: find a model, open it and copy its share link without the mouse."""

import hashlib
import unittest
import urllib.request

from harness import AppTest, s3_config


class KeyboardOnly(AppTest):
    def setUp(self):
        self.bucket = self.unique("e2e-keys")
        self.config, self.extra_env = s3_config(self.bucket)
        self.start_app = False
        super().setUp()
        self.cli("buckets", "create", self.bucket)
        self.model = self.files / "fraud-detector-v3.pt"
        self.model.write_bytes(bytes(range(256)) * 1024)
        other = self.files / "churn-model-v1.pt"
        other.write_bytes(b"x" * 200_000)
        self.cli("put", str(self.model), str(other), f"{self.bucket}/models/")
        self.launch()

    def tearDown(self):
        self.cli("rm", "--recursive", f"{self.bucket}/", check=False)
        self.cli("buckets", "rm", self.bucket, check=False)
        super().tearDown()

    def test_open_a_model_and_copy_its_share_link_with_the_keyboard(self):
        s = self.s
        s.wait("two rows", lambda: len(s.find_all("[data-testid=row-name]")) == 2)
        s.keys("/")
        self.assertEqual(s.js("return document.activeElement.dataset.testid"), "search")
        s.keys("fraud")
        s.wait("one row", lambda: len(s.find_all("[data-testid=row-name]")) == 1)
        s.keys("\ue015")  # down: into the list
        self.assertEqual(s.js("return document.activeElement.dataset.testid"), "library-rows")
        s.keys("\ue007")  # Enter opens
        s.wait_css("[data-testid=detail]")
        self.assertIn("fraud-detector", s.text_of("[data-testid=detail-name]"))
        # Tab to the share button, press Enter: the link is copied.
        for _ in range(40):
            if s.js("return document.activeElement.dataset.testid") == "share":
                break
            s.keys("\ue004")
        self.assertEqual(s.js("return document.activeElement.dataset.testid"), "share")
        s.keys("\ue007")
        url = s.wait("the link", lambda: s.find_all("[data-testid=share-url]") and s.find("[data-testid=share-url]").prop("value"))
        self.assertIn("copied", s.text_of("[data-testid=notice]"))
        self.shot("keyboard-share")
        with urllib.request.urlopen(url) as r:
            self.assertEqual(hashlib.sha256(r.read()).hexdigest(), hashlib.sha256(self.model.read_bytes()).hexdigest())


if __name__ == "__main__":
    unittest.main()
