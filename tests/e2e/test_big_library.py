"""The Library at 100,000 artifacts (3 versions each), seeded by the catalog's fixture
generator: a search finds one row, a sort by accuracy puts the best first, and the DOM holds
only a window of rows."""

import os
import sqlite3
import subprocess
import unittest

from harness import TARGET, AppTest

ARTIFACTS = int(os.environ.get("STOWAGE_E2E_LIBRARY_SIZE", "100000"))
SEED = TARGET / "debug" / "examples" / "catalog_bench"


class BigLibrary(AppTest):
    start_app = False

    def setUp(self):
        super().setUp()
        self.catalog = self.tmp / "stowage/data/catalog.sqlite3"
        subprocess.run(
            [str(SEED), str(self.catalog), "--seed-only"],
            env={**self.env, "CATALOG_BENCH_ARTIFACTS": str(ARTIFACTS)},
            check=True,
            capture_output=True,
        )
        self.launch()

    def test_search_and_sort_a_library_of_100000_artifacts(self):
        s = self.s
        s.wait("the total", lambda: s.text_of("[data-testid=count]") == f"{ARTIFACTS:,} artifacts", timeout=120)
        # The count and the rows may paint in different frames: wait for the rows.
        rows = s.wait("the first rows", lambda: len(s.find_all("[data-testid=row]")) > 5 and len(s.find_all("[data-testid=row]")))
        self.assertLess(rows, 200, "the list must be virtual")
        self.shot("library-100k")

        # Sort by accuracy: the best first, as the catalog knows it.
        with sqlite3.connect(self.catalog) as db:
            best = db.execute("SELECT MAX(accuracy) FROM artifacts WHERE n_versions > 0").fetchone()[0]
        s.find("[data-testid=sort-accuracy]").click()
        s.wait("the best first", lambda: s.text_of("[data-testid=row-accuracy]") == f"{best:g}")
        self.assertEqual(s.js("return document.querySelector('[data-testid=sort-accuracy]').closest('[role=columnheader]').getAttribute('aria-sort')"), "descending")
        self.shot("library-100k-by-accuracy")

        # Scroll to the middle: rows there load, the DOM stays a window.
        middle = ARTIFACTS // 2
        s.js(f"document.querySelector('[data-testid=library-rows]').scrollTop = 34 * {middle}")
        s.wait(
            "rows in the middle",
            lambda: s.js(f"return [...document.querySelectorAll('[data-testid=row-name]')].some(r => +r.closest('[data-index]').dataset.index >= {middle})"),
        )
        self.assertLess(len(s.find_all("[data-testid=row]")), 200)

        # A search as you type finds the one artifact.
        name = f"model-family-{ARTIFACTS - 1:06d}"
        s.keys("/")
        s.keys(name)
        s.wait("one row", lambda: s.text_of("[data-testid=count]") == "1 artifact")
        self.assertEqual(s.text_of("[data-testid=row-name]"), f"models/{name}")
        self.shot("library-100k-search")


if __name__ == "__main__":
    unittest.main()
