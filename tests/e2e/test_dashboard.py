"""The cost dashboard against SeaweedFS and the local store: its totals equal what the
buckets hold and what `stowage cost --json` prints, for every grouping and with filters; each
CSV export equals the table and `stowage cost --csv`; a largest artifact opens its detail."""

import json
import re
import unittest
from pathlib import Path

from harness import AppTest, s3_config


class Dashboard(AppTest):
    start_app = False

    def setUp(self):
        self.bucket = self.unique("e2e-dash")
        self.config, self.extra_env = s3_config(self.bucket)
        super().setUp()
        self.cli("buckets", "create", self.bucket)
        # Models and results on S3 (one gzipped on the way), a dataset on the local store, one
        # download (egress).
        files = {
            "model-a-v1.pt": bytes(range(256)) * 3000,
            "model-a-v2.pt": bytes(range(256)) * 3500,
            "results.json": json.dumps({"accuracy": 0.9}).encode() + b" " * 400_000,
        }
        for name, data in files.items():
            (self.files / name).write_bytes(data)
        self.cli("put", "model-a-v1.pt", "model-a-v2.pt", f"{self.bucket}/models/")
        self.cli("put", "--compress", "results.json", f"{self.bucket}/results/")
        (self.files / "train.csv").write_text("x,y\n" + "1,2\n" * 50_000)
        self.cli("--profile", "local", "put", "train.csv", "datasets/training-data/")
        self.cli("get", f"{self.bucket}/models/model-a-v1.pt", str(self.tmp / "back.pt"))
        self.launch()

    def tearDown(self):
        self.cli("rm", "--recursive", f"{self.bucket}/", check=False)
        self.cli("buckets", "rm", self.bucket, check=False)
        super().tearDown()

    def cost(self, *args):
        return self.cli_json("cost", *args)

    def select(self, css, value):
        self.s.js(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1];"
            "e.dispatchEvent(new Event('change', { bubbles: true }));",
            css,
            value,
        )

    def table(self, css):
        """A table's rows: the row's key attribute and its cells' raw values."""
        return self.s.js(
            "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map(r => ({"
            " key: r.dataset.group ?? r.dataset.provider ?? r.dataset.key,"
            " values: [...r.querySelectorAll('td[data-value]')].map(td => Number(td.dataset.value)) }));",
            css,
        )

    def attr(self, css, name):
        return self.s.js("return document.querySelector(arguments[0]).getAttribute(arguments[1])", css, name)

    def totals(self):
        return {k: float(self.attr(f"[data-testid=total-{k}]", "data-value")) for k in ["stored", "original", "savings", "cost", "jsonb"]}

    def wait_loaded(self):
        self.s.wait("the dashboard", lambda: self.s.find_all("[data-testid=dashboard-totals]") and self.attr("[data-testid=dashboard]", "aria-busy") == "false")

    def test_totals_groupings_filters_and_csv_equal_the_cli(self):
        s = self.s
        s.find("[data-testid=nav-dashboard]").click()
        self.wait_loaded()
        self.shot("dashboard")

        # What the providers hold: the S3 bucket's objects and the local store's.
        on_s3 = sum(e.get("size") or 0 for e in self.cli_json("ls", "-r", f"{self.bucket}/")["entries"])
        held = on_s3 + sum(e.get("size") or 0 for e in self.cli_json("--profile", "local", "ls", "-r", "datasets/")["entries"])
        report = self.cost("--by", "provider")
        t = self.totals()
        self.assertEqual(t["stored"], held)
        self.assertEqual(t["stored"], report["total"]["stored_bytes"])
        self.assertEqual(t["original"], report["total"]["original_bytes"])
        self.assertGreater(t["savings"], 0)
        self.assertEqual(t["savings"], report["total"]["savings_bytes"])
        self.assertAlmostEqual(t["cost"], report["total"]["total_monthly_usd_est"], places=9)
        self.assertAlmostEqual(t["jsonb"], report["total"]["postgres_jsonb_monthly_usd_est"], places=9)
        providers = self.table("[data-testid=providers-table]")
        self.assertEqual(
            [(p["key"], p["values"]) for p in providers],
            [(p["provider"], [p["storage_monthly_usd_est"], p["egress_usd_est_30d"], p["requests_usd_est_30d"]]) for p in report["providers"]],
        )
        self.assertGreater(sum(p["egress_bytes_30d"] for p in report["providers"]), 0)

        # Every grouping's table is the CLI's report by the same grouping.
        for by in ["provider", "bucket", "org", "folder", "kind"]:
            s.find(f"[data-testid=by-{by}]").click()
            s.wait(f"the table by {by}", lambda: self.attr("[data-testid=groups-table]", "data-by") == by)
            rows = self.table("[data-testid=groups-table]")
            cli = self.cost("--by", by)
            self.assertEqual(
                [(r["key"], r["values"][:4]) for r in rows],
                [(g["name"], [g["objects"], g["stored_bytes"], g["original_bytes"], g["savings_bytes"]]) for g in cli["groups"]],
                by,
            )
        self.shot("dashboard-by-kind")

        # CSV export of the table shown: the file equals the table and `cost --csv`.
        s.find("[data-testid=csv-groups]").click()
        toast = s.wait("the export", lambda: s.find_all("[data-testid=toast]") and s.text_of("[data-testid=toast]"))
        m = re.match(r"Saved (\d+) rows to (.+)$", toast)
        self.assertTrue(m, toast)
        csv = Path(m.group(2)).read_text()
        self.assertEqual(csv.rstrip("\n"), self.cli("cost", "--by", "kind", "--csv", "groups").stdout.rstrip("\n"))
        lines = csv.splitlines()
        self.assertEqual(int(m.group(1)), len(lines) - 1)
        body = [line.split(",") for line in lines[1:-1]]  # the total row aside
        rows = self.table("[data-testid=groups-table]")
        self.assertEqual([(b[0], int(b[1]), int(b[2])) for b in body], [(r["key"], int(r["values"][0]), int(r["values"][1])) for r in rows])

        # A provider filter: the figures of that provider alone, as `cost --provider` prints.
        s3 = next(p["provider"] for p in report["providers"] if p["provider"].startswith("s3"))
        self.select("[data-testid=filter-provider]", s3)
        self.s.wait("the filtered totals", lambda: float(self.attr("[data-testid=total-stored]", "data-value")) != t["stored"])
        self.wait_loaded()
        only = self.cost("--provider", s3)
        self.assertEqual(self.totals()["stored"], only["total"]["stored_bytes"])
        self.assertEqual(only["total"]["stored_bytes"], on_s3)
        self.shot("dashboard-filtered")

        # The largest artifact opens its detail, from the keyboard.
        family = only["total"]["largest"][0]["family"]
        s.js("const r = document.querySelector('[data-testid=largest-table] tbody tr'); r.scrollIntoView(); r.focus();")
        s.keys("\ue007")
        s.wait_css("[data-testid=detail]")
        self.assertIn(family, s.text_of("[data-testid=detail]"))


if __name__ == "__main__":
    unittest.main()
