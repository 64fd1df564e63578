"""The installable package: the `.deb` that `scripts/test` builds holds the app, its icons and
its desktop entry, declares the tray's library, and its binary starts and shows the Library.
CI (`STOWAGE_E2E_INSTALL_DEB=1`, as root) installs it with apt-get and starts the installed
binary; elsewhere the package is unpacked into a temporary folder and its binary started."""

import glob
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import TARGET, AppTest

DEBS = sorted(glob.glob(str(TARGET / "debug" / "bundle" / "deb" / "Stowage_*_amd64.deb")))


def installed_binary():
    deb = DEBS[-1]
    if os.environ.get("STOWAGE_E2E_INSTALL_DEB") == "1":
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--reinstall", "--no-install-recommends", deb],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return Path("/usr/bin/stowage-app")
    root = Path(tempfile.mkdtemp(prefix="stowage-deb-"))
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    return root / "usr/bin/stowage-app"


class Package(AppTest):
    start_app = False

    def test_the_package_installs_and_starts_on_the_library(self):
        self.assertTrue(DEBS, "no .deb: scripts/test builds it with `tauri build --debug --bundles deb`")
        info = subprocess.run(["dpkg-deb", "-f", DEBS[-1], "Package", "Depends"], capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: stowage", info)
        self.assertIn("libayatana-appindicator3-1", info)
        self.assertIn("libwebkit2gtk-4.1-0", info)
        files = subprocess.run(["dpkg-deb", "-c", DEBS[-1]], capture_output=True, text=True, check=True).stdout
        self.assertIn("usr/bin/stowage-app", files)
        self.assertIn("usr/share/applications/Stowage.desktop", files)
        self.app = installed_binary()
        self.assertTrue(self.app.exists(), self.app)
        s = self.launch()
        empty = s.wait_css("[data-testid=empty]")
        self.assertIn("Drop a dataset, a model or a results file", empty.text)
        self.shot("installed-package-first-run")


if __name__ == "__main__":
    unittest.main()
