"""Settings against SeaweedFS and the real keyring (GNOME Keyring on a private D-Bus session):
a profile added in the window keeps its secret in the keyring (the CLI then works with no
credentials in its environment), never in a file under Stowage's or the home folders, nor in
the DOM; a wrong secret's connection test names the error and the fix."""

import json
import os
import unittest
from pathlib import Path

from harness import AppTest

PLANTED = "planted-Wrong-Secret-4b9d-never-shown"


def files_holding(root, needle):
    found = []
    for p in Path(root).rglob("*"):
        if p.is_file() and not p.is_symlink():
            try:
                if needle in p.read_bytes():
                    found.append(str(p))
            except OSError:
                pass
    return found


class Settings(AppTest):
    def fill(self, testid, text):
        e = self.s.find(f"[data-testid={testid}]")
        e.clear()
        e.type(text)

    def add_profile(self, name, access_key, secret):
        s = self.s
        s.find("[data-testid=add-profile]").click()
        s.wait_css("[data-testid=profile-form]")
        self.fill("profile-name", name)
        self.fill("profile-endpoint", os.environ.get("STOWAGE_TEST_S3_ENDPOINT", "http://127.0.0.1:8333"))
        self.fill("profile-region", "us-east-1")
        s.find("[data-testid=profile-path-style]").click()
        s.wait("the secret fields", lambda: s.find_all("[data-testid=secret-secret_access_key]"))
        self.fill("secret-access_key_id", access_key)
        self.fill("secret-secret_access_key", secret)
        self.assertEqual(s.find("[data-testid=secret-secret_access_key]").prop("type"), "password")
        s.find("[data-testid=save-profile]").click()
        s.wait("the form to close", lambda: not s.find_all("[data-testid=profile-form]"))
        return s.wait(
            "the connection test",
            lambda: s.find_all(f"[data-testid=test-result-{name}]")
            and "Listing" not in s.text_of(f"[data-testid=test-result-{name}]")
            and s.text_of(f"[data-testid=test-result-{name}]"),
        )

    def test_a_secret_goes_to_the_keyring_and_a_wrong_one_names_the_fix(self):
        s = self.s
        access_key = os.environ.get("STOWAGE_TEST_S3_ACCESS_KEY", "testak")
        secret = os.environ.get("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123")
        good, bad = self.unique("team"), self.unique("wrong")
        s.find("[data-testid=nav-settings]").click()
        s.wait_css("[data-testid=profiles-table]")
        self.shot("settings")
        try:
            result = self.add_profile(good, access_key, secret)
            self.assertIn("Connected", result)
            self.shot("settings-profile-connected")
            # The keyring holds it: the CLI, with no credentials in its environment, lists the
            # server's buckets through that profile, and says where the secret came from.
            self.assertFalse({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(self.env))
            self.cli("--profile", good, "buckets", "ls")
            shown = json.dumps(self.cli_json("--profile", good, "profile", "show"))
            self.assertIn("keyring", shown)
            self.assertNotIn(secret, shown)
            # Nowhere else: not in config, data or cache, nor in the home folder, nor the DOM.
            for root in [self.tmp / "stowage", self.tmp / "home"]:
                self.assertEqual(files_holding(root, secret.encode()), [], root)
            self.assertNotIn(secret, s.js("return document.documentElement.outerHTML"))
            config = (self.tmp / "stowage/config/config.toml").read_text()
            self.assertIn(f"[profiles.{good}]", config)

            # A wrong secret: the connection test names the error and the next step.
            result = self.add_profile(bad, access_key, PLANTED)
            self.assertNotIn("Connected", result)
            self.assertIn("Next:", result)
            self.shot("settings-wrong-secret")
            self.assertNotIn(PLANTED, s.js("return document.documentElement.outerHTML"))
            self.assertNotIn(PLANTED, (self.tmp / "driver.log").read_text(errors="replace"))

            # Sync's destinations: the new profile first, a second copy on the built-in one;
            # the same profile twice is refused with the reason, and nothing changes.
            def choose(testid, value):
                s.js(
                    "const e = document.querySelector(arguments[0]); e.value = arguments[1];"
                    "e.dispatchEvent(new Event('change', { bubbles: true }));",
                    f"[data-testid={testid}]",
                    value,
                )

            choose("sync-primary", good)
            s.wait("the primary", lambda: self.cli_json("profile", "ls").get("sync_primary") == good)
            choose("sync-secondary", "local")
            s.wait("the secondary", lambda: self.cli_json("profile", "ls").get("sync_secondary") == "local")
            config = (self.tmp / "stowage/config/config.toml").read_text()
            self.assertIn(f'primary = "{good}"', config)
            self.assertIn('secondary = "local"', config)
            self.assertIn(f"[profiles.{good}]", config)
            choose("sync-secondary", good)
            refused = s.wait("the refusal", lambda: s.find_all("[role=alert]") and s.text_of("[role=alert]"))
            self.assertIn("secondary must differ from primary", refused)
            self.assertEqual(self.cli_json("profile", "ls")["sync_secondary"], "local")
            self.shot("settings-sync-profiles")
            # Back to the profile in use, no second copy.
            choose("sync-secondary", "")
            s.wait("no second copy", lambda: self.cli_json("profile", "ls").get("sync_secondary") is None)
            choose("sync-primary", "")
            s.wait("the profile in use", lambda: self.cli_json("profile", "ls").get("sync_primary") is None)

            # Removing it takes its keyring entries too.
            s.find(f"[data-testid=remove-{bad}]").click()
            s.find("[data-testid=confirm-remove]").click()
            s.wait("the removal", lambda: not s.find_all(f"[data-profile={bad}]"))
            self.assertNotIn(bad, [p["name"] for p in self.cli_json("profile", "ls")["profiles"]])
        finally:
            for name in [good, bad]:
                self.cli("profile", "rm", name, check=False)


if __name__ == "__main__":
    unittest.main()
