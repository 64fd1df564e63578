"""Secrets never reach the window: a planted secret key is used for a failing upload, then
the DOM, the screen's text and the app's own log are searched for it."""

import unittest

from harness import AppTest, s3_config

PLANTED = "planted-Secret-7f3a9c1e-do-not-show"


class SecretsStayOut(AppTest):
    def setUp(self):
        self.bucket = self.unique("e2e-secret")
        config, env = s3_config(self.bucket)
        self.config = config
        # A wrong secret: every request is refused, and the error travels to the window.
        self.extra_env = {**env, "AWS_SECRET_ACCESS_KEY": PLANTED, "STOWAGE_LOG": "trace"}
        super().setUp()

    def test_a_planted_secret_never_reaches_the_window(self):
        s = self.s
        f = self.files / "model-secret-check.pt"
        f.write_bytes(b"m" * 150_000)
        self.drag_files(f)
        s.wait_css("[data-testid=upload]")
        s.find("[data-testid=confirm-upload]").click()
        s.wait("the refusal", lambda: s.find_all("[data-testid=upload-row].failed"), timeout=180)
        error = s.find("[data-testid=upload] [data-testid=error]").text
        self.assertTrue(error.strip())
        self.shot("upload-refused-bad-credentials")
        html = s.js("return document.documentElement.outerHTML")
        self.assertNotIn(PLANTED, html)
        self.assertNotIn(PLANTED, s.js("return document.body.innerText"))
        # The app ran with trace logging (a positive control: the log is not empty).
        log = (self.tmp / "driver.log").read_text(errors="replace")
        self.assertTrue(log.strip(), "the app's log is empty")
        self.assertNotIn(PLANTED, log)


if __name__ == "__main__":
    unittest.main()
