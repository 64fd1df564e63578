"""The Library: first run, the upload by a real drag and drop, a model's history."""

import hashlib
import json
import os
import unittest
from pathlib import Path

from harness import AppTest


class FirstRun(AppTest):
    def test_first_run_on_the_local_store_explains_how_to_start(self):
        s = self.s
        empty = s.wait_css("[data-testid=empty]")
        self.assertIn("Drop a dataset, a model or a results file", empty.text)
        self.assertEqual(s.text_of("[data-testid=count]"), "0 artifacts")
        self.shot("first-run")


if __name__ == "__main__":
    unittest.main()
