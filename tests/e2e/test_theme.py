"""Dark mode follows the desktop: with the desktop portal saying "prefer dark" the window is
dark from the start, and it turns light when the desktop's setting changes."""

import subprocess
import unittest
from pathlib import Path

from harness import GTK_PYTHON, AppTest


class Theme(AppTest):
    start_app = False

    def setUp(self):
        super().setUp()
        self.portal = subprocess.Popen(
            [GTK_PYTHON, str(Path(__file__).with_name("fake_portal.py")), "dark"],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.assertEqual(self.portal.stdout.readline().strip(), "ready")

    def tearDown(self):
        super().tearDown()
        self.portal.kill()
        self.portal.wait()

    def background(self):
        return self.s.js("return getComputedStyle(document.documentElement).backgroundColor")

    def test_the_window_follows_the_desktop_colour_scheme(self):
        s = self.launch()
        s.wait("the dark theme", lambda: s.js("return document.documentElement.dataset.theme") == "dark")
        s.wait_css("[data-testid=empty]")
        self.assertEqual(self.background(), "rgb(23, 24, 28)")
        self.shot("dark-first-run")
        self.portal.stdin.write("light\n")
        self.portal.stdin.flush()
        self.assertEqual(self.portal.stdout.readline().strip(), "changed")
        s.wait("the light theme", lambda: s.js("return document.documentElement.dataset.theme") == "light")
        self.assertEqual(self.background(), "rgb(247, 247, 248)")


if __name__ == "__main__":
    unittest.main()
