"""The policy editor and the price table: edited rules are checked as typed (a faulty one is named with its line
and cannot be saved), the explain preview follows the edit before it is saved, and once saved
a file dropped on the window follows the new rule. Edited prices are what `cost` uses."""

import unittest

from harness import AppTest

RULE = """include_defaults = true

[[rule]]
name = "csv-local"
patterns = ["*.csv"]
destination = "local"
"""


class PolicyEditor(AppTest):
    def set_text(self, text):
        self.s.js(
            "const t = document.querySelector('[data-testid=policy-text]'); t.value = arguments[0];"
            "t.dispatchEvent(new Event('input', { bubbles: true }));",
            text,
        )

    def set_sample(self, path, size):
        self.s.js(
            "for (const [css, v] of [['[data-testid=sample-path]', arguments[0]], ['[data-testid=sample-size]', arguments[1]]]) {"
            " const i = document.querySelector(css); i.value = v; i.dispatchEvent(new Event('input', { bubbles: true })); }",
            path,
            str(size),
        )

    def verdict(self):
        return self.s.js("const e = document.querySelector('[data-testid=verdict-rule]'); return e && e.innerText")

    def test_an_edited_rule_is_checked_previewed_saved_and_followed_by_a_drop(self):
        s = self.s
        s.find("[data-testid=nav-settings]").click()
        s.wait("the starter policy", lambda: "include_defaults = true" in (s.find("[data-testid=policy-text]").prop("value") or ""))
        self.set_sample("exports/train.csv", 10_000_000)
        before = s.wait("the preview", self.verdict)
        self.assertNotEqual(before, "csv-local")

        self.set_text(RULE)
        s.wait("the preview of the edit", lambda: self.verdict() == "csv-local")
        self.assertEqual(s.text_of("[data-testid=verdict-destination]"), "local")
        self.assertFalse((self.tmp / "stowage/config/policy.toml").exists())
        self.shot("policy-editor-preview")

        self.set_text(RULE.replace('patterns = ["*.csv"]', 'patterns = ["["]'))
        error = s.wait("the error", lambda: s.find_all("[data-testid=policy-error]") and s.text_of("[data-testid=policy-error]"))
        self.assertIn(":5:", error)
        self.assertIn("csv-local", error)
        self.assertTrue(s.find("[data-testid=save-policy]").prop("disabled"))
        self.shot("policy-editor-error")

        self.set_text(RULE)
        s.wait("the fixed text", lambda: not s.find_all("[data-testid=policy-error]") and self.verdict() == "csv-local")
        s.find("[data-testid=save-policy]").click()
        s.wait("the saved file", lambda: (self.tmp / "stowage/config/policy.toml").exists())
        self.assertEqual((self.tmp / "stowage/config/policy.toml").read_text(), RULE)

        f = self.files / "train.csv"
        f.write_text("x,y\n" + "1,2\n" * 100_000)
        self.drag_files(f)
        s.wait_css("[data-testid=upload]")
        row = s.find("[data-testid=upload-row]").text
        self.assertIn("csv-local", row)
        self.assertEqual(self.cli_json("explain", f.name, cwd=f.parent)["files"][0]["rule"], "csv-local")
        self.shot("policy-followed-by-drop")

    def test_prices_are_edited_and_used_by_the_estimates(self):
        s = self.s
        s.find("[data-testid=nav-settings]").click()
        s.wait_css("[data-testid=price-s3_storage_gb_month]")
        s.js(
            "const i = document.querySelector('[data-testid=price-s3_storage_gb_month]'); i.value = '0.5';"
            "i.dispatchEvent(new Event('input', { bubbles: true }));"
        )
        s.find("[data-testid=save-prices]").click()
        s.wait("the saved prices", lambda: s.find_all("[data-testid=toast]") and "Prices saved" in s.text_of("[data-testid=toast]"))
        self.assertEqual(self.cli_json("cost")["prices"]["s3_storage_gb_month"], 0.5)
        self.assertIn("s3_storage_gb_month = 0.5", (self.tmp / "stowage/config/config.toml").read_text())


if __name__ == "__main__":
    unittest.main()
