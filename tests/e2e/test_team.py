"""The team catalog in the window, on a real PostgreSQL (the cluster scripts/test starts) and
SeaweedFS: Settings shows the team database, its members and who reads their rows, and
syncs it; the Library then lists a
teammate's artifact beside the user's own, and "Mine" leaves only the user's; the
database password never reaches the DOM."""

import os
import subprocess
import unittest
import uuid

from harness import CLI, AppTest, s3_config


def database_url():
    admin = os.environ.get("STOWAGE_TEST_PG_URL")
    if not admin:
        raise unittest.SkipTest("STOWAGE_TEST_PG_URL is not set: run through scripts/test")
    name = f"e2e_team_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", "-q", admin, "-c", f"CREATE DATABASE {name}"], check=True)
    return admin.rsplit("/", 1)[0] + f"/{name}?sslmode=disable", admin.split(":")[2].split("@")[0]


class Team(AppTest):
    start_app = False

    def setUp(self):
        self.url, self.password = database_url()
        self.bucket = self.unique("e2e-team")
        self.config, env = s3_config(self.bucket)
        self.extra_env = {**env, "STOWAGE_TEAM_DATABASE_URL": self.url, "STOWAGE_TEAM_MEMBER": "ana"}
        super().setUp()
        self.cli("buckets", "create", self.bucket)
        (self.files / "model-mine_v1.pt").write_bytes(bytes(range(256)) * 400)
        self.cli("put", "model-mine_v1.pt", f"{self.bucket}/models/")
        # Bob, on his own machine (data folder), shares a model through the team database.
        bob = self.tmp / "bob"
        (bob / "data").mkdir(parents=True)
        self.bob_env = {**self.env, "STOWAGE_DATA_DIR": str(bob / "data"), "STOWAGE_TEAM_MEMBER": "bob"}
        (self.files / "model-theirs_v1.pt").write_bytes(bytes(range(256)) * 500)
        for args in (["put", "model-theirs_v1.pt", f"{self.bucket}/models/"], ["team", "sync"],
                     ["team", "bind", "bob", "--user", "user-bob"]):
            subprocess.run([str(CLI), *args], env=self.bob_env, cwd=self.files, check=True, capture_output=True)
        self.launch()

    def tearDown(self):
        self.cli("rm", "--recursive", f"{self.bucket}/", check=False)
        self.cli("buckets", "rm", self.bucket, check=False)
        super().tearDown()

    def count(self):
        return self.s.text_of("[data-testid=count]")

    def test_settings_syncs_the_team_and_the_library_switches_between_mine_and_everyones(self):
        s = self.s
        s.wait("the library", lambda: self.count() == "1 artifact")
        s.find("[data-testid=nav-settings]").click()
        s.wait("the team panel", lambda: "127.0.0.1" in s.text_of("[data-testid=team-panel]"))
        # The profiles above it arrive on their own (the keyring is asked for each): once
        # they are in, nothing moves "Sync now" under the click.
        s.wait("the profiles", lambda: s.find_all("[data-testid=profiles-table] tr[data-profile=seaweed]"))
        self.assertIn("from STOWAGE_TEAM_DATABASE_URL", s.text_of("[data-testid=team-panel]"))
        s.find("[data-testid=team-sync]").click()
        done = s.wait("the sync", lambda: s.find_all("[data-testid=team-done]") and s.text_of("[data-testid=team-done]"))
        self.assertRegex(done, r"applied [1-9]\d* from the team")
        s.wait("nothing waiting", lambda: s.text_of("[data-testid=team-pending]").startswith("0 "))
        self.assertIn("2 artifacts", s.text_of("[data-testid=team-remote]"))
        # The members, and who reads each one's organization (bob bound a Supabase user).
        def members():
            return s.js("return [...document.querySelectorAll('[data-testid=team-members] tbody tr')]"
                        ".map(r => [...r.cells].map(c => c.innerText.trim()))")
        expected = [["ana", "—", "nobody bound", "1", "1"], ["bob", "—", "user user-bob", "1", "1"]]
        s.wait("the members", lambda: members() == expected)
        s.js("document.querySelector('[data-testid=team-panel]').scrollIntoView()")
        self.shot("team-settings")
        s.find("[data-testid=nav-library]").click()
        s.wait("both artifacts", lambda: self.count() == "2 artifacts")
        s.js(
            "const e = document.querySelector('[data-testid=filter-scope]'); e.value = 'me';"
            "e.dispatchEvent(new Event('change', { bubbles: true }));"
        )
        s.wait("only mine", lambda: self.count() == "1 artifact")
        self.assertIn("model-mine", s.js("return document.body.innerText"))
        self.assertNotIn("model-theirs", s.js("return document.body.innerText"))
        self.shot("team-library-mine")
        # The provider filter's "s3" takes in this S3-compatible endpoint's copies.
        for provider, expected in (("supabase", "0 artifacts"), ("s3", "1 artifact")):
            s.js(
                "const e = document.querySelector('[data-testid=filter-provider]');"
                f"e.value = '{provider}'; e.dispatchEvent(new Event('change', {{ bubbles: true }}));"
            )
            s.wait(f"the {provider} filter", lambda: self.count() == expected)
        html = s.js("return document.documentElement.outerHTML")
        self.assertNotIn(self.password, html)
        # The CLI agrees: bob's version carries his name.
        versions = self.cli_json("versions")["versions"]
        self.assertEqual(sorted((v["family"], v["member"]) for v in versions), [("model-mine", None), ("model-theirs", "bob")])


if __name__ == "__main__":
    unittest.main()
