"""The app's figures for BENCHMARKS.md: cold start to an interactive Library, a search
keystroke and a sort to repainted rows (timed inside the window: input → IPC → SQL → DOM →
paint), DOM rows, memory and idle CPU of the app and its WebKit processes; the dashboard
opened to painted charts; the app idle while it watches BENCH_APP_WATCH_FILES files (100,000,
synced beforehand by `stowage sync`)."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import harness  # noqa: E402

SEED = sys.argv[1]
N = int(os.environ.get("BENCH_APP_ARTIFACTS", "100000"))
REPS = int(os.environ.get("BENCH_APP_REPS", "7"))
WATCH_FILES = int(os.environ.get("BENCH_APP_WATCH_FILES", "100000"))
CLI = Path(os.environ.get("STOWAGE_CLI_BIN", ROOT / "target" / "release" / "stowage"))

# Open the dashboard from the Library and wait for its figures and charts to be painted.
DASHBOARD = """
const done = arguments[0];
const t0 = performance.now();
document.querySelector('[data-testid=nav-dashboard]').click();
const check = () => {
  const d = document.querySelector('[data-testid=dashboard]');
  if (d && d.getAttribute('aria-busy') === 'false' && document.querySelector('[data-testid=growth-chart]')
      && document.querySelector('[data-testid=groups-table] tbody tr')) {
    requestAnimationFrame(() => done(performance.now() - t0));
  } else if (performance.now() - t0 > 20000) { done(-1); }
  else { requestAnimationFrame(check); }
};
requestAnimationFrame(check);
"""

# Set a value into an input as typing does, then wait for the first row to show `expect`
# (or to change, with expect = null) over animation frames; the time inside the page.
REPAINT = """
const [css, value, expect, done] = arguments;
const first = () => { const e = document.querySelector('[data-testid=row-name]'); return e ? e.innerText : null; };
const before = first();
const t0 = performance.now();
if (value === null) { document.querySelector(css).click(); }
else { const i = document.querySelector(css); i.value = value; i.dispatchEvent(new Event('input', {bubbles: true})); }
const check = () => {
  const now = first();
  if (expect === null ? (now !== null && now !== before) : now === expect) {
    requestAnimationFrame(() => done(performance.now() - t0));
  } else if (performance.now() - t0 > 20000) { done(-1); }
  else { requestAnimationFrame(check); }
};
requestAnimationFrame(check);
"""


def tree(pid):
    """The pid and every descendant."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return sorted(set(out))


def rss_mib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except OSError:
            pass
    return t


class Bench(harness.AppTest):
    start_app = False

    def runTest(self):
        pass


def watch_idle(b):
    """The app watching a project of WATCH_FILES files (1,000 folders), synced beforehand:
    CPU and memory of the app and its WebKit processes while nothing changes."""
    project = b.files / "watched"
    for d in range(WATCH_FILES // 100):
        folder = project / ".beast-mode" / "runs" / f"run-{d:04d}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"step-{f:03d}.txt").write_text(f"{d} {f}\n")
    t = time.monotonic()
    subprocess.run([str(CLI), "sync", str(project)], env=b.env, cwd=b.files, check=True, capture_output=True)
    synced_s = time.monotonic() - t
    s = b.launch()
    r = s.js_async("const [p, done] = arguments; window.__TAURI_INTERNALS__.invoke('add_folder', { path: p, org: null }).then(() => done(true), e => done(String(e.message || e)))", str(project))
    assert r is True, r
    s.find("[data-testid=nav-sync]").click()
    s.wait("the watcher", lambda: s.js("const w = document.querySelector('[data-testid=watcher]'); return w && w.dataset.state") == "here", timeout=600)
    s.find("[data-testid=nav-library]").click()
    time.sleep(15)  # the start-up scan of the watched files
    app_pid = int(subprocess.run(["pgrep", "-n", "-f", f"^{b.app}"], capture_output=True, text=True).stdout.split()[0])
    pids = tree(app_pid)
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(pids), time.monotonic()
    time.sleep(30)
    idle = (cpu_ticks(pids) - c0) / hz / (time.monotonic() - t0) * 100
    print(f"watching {WATCH_FILES:,} files (synced in {synced_s:.0f} s by `stowage sync`): idle CPU over 30 s {idle:.2f} %, memory {rss_mib(pids):.0f} MiB RSS")


def main():
    b = Bench()
    b.setUp()
    try:
        catalog = b.tmp / "stowage/data/catalog.sqlite3"
        t = time.monotonic()
        subprocess.run([SEED, str(catalog), "--seed-only"], env={**b.env, "CATALOG_BENCH_ARTIFACTS": str(N)}, check=True, capture_output=True)
        seed_s = time.monotonic() - t
        starts, firsts = [], []
        for i in range(3):
            t = time.monotonic()
            s = b.launch()
            s.wait("the first rows", lambda: s.find_all("[data-testid=row-name]"), timeout=60, every=0.01)
            starts.append(time.monotonic() - t)
            firsts.append(s.wait("the first-rows mark", lambda: s.js("const m = performance.getEntriesByName('stowage:first-rows')[0]; return m ? m.startTime : null")))
            if i < 2:
                s.quit()
                os.killpg(b.driver.pid, 15)
                b.driver.wait()
                b.s = None
        s = b.s
        app_pid = int(subprocess.run(["pgrep", "-n", "-f", f"^{harness.APP}"], capture_output=True, text=True).stdout.split()[0])
        searches, sorts = [], []
        for r in range(REPS):
            name = f"model-family-{(r * 7919) % N:06d}"
            searches.append(s.js_async(REPAINT, "[data-testid=search]", name, f"models/{name}"))
            s.js_async(REPAINT, "[data-testid=search]", "", None)
        for r in range(REPS):
            sorts.append(s.js_async(REPAINT, "[data-testid=sort-accuracy]", None, None))
            s.js_async(REPAINT, "[data-testid=sort-name]", None, None)
        dom_rows = len(s.find_all("[data-testid=row]"))
        dashboards = []
        for r in range(REPS):
            dashboards.append(s.js_async(DASHBOARD))
            s.find("[data-testid=nav-library]").click()
            s.wait("the Library", lambda: s.find_all("[data-testid=row-name]"))
        time.sleep(3)
        pids = tree(app_pid)
        mem = rss_mib(pids)
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu_ticks(pids), time.monotonic()
        time.sleep(10)
        idle = (cpu_ticks(pids) - c0) / hz / (time.monotonic() - t0) * 100
        med = statistics.median
        print(f"artifacts                          {N:,} × 3 versions (seeded in {seed_s:.1f} s)")
        print(f"cold start → first rows painted    median {med(starts) * 1000:.0f} ms  (runs: {', '.join(f'{x * 1000:.0f}' for x in starts)})")
        print(f"page load → first rows painted     median {med(firsts):.0f} ms  (the Library's first screen: page, IPC, SQL, DOM, paint)")
        print(f"search keystroke → rows repainted  median {med(searches):.1f} ms  best {min(searches):.1f} ms")
        print(f"sort by accuracy → rows repainted  median {med(sorts):.1f} ms  best {min(sorts):.1f} ms")
        print(f"DOM rows in the list               {dom_rows}")
        print(f"memory (app + WebKit processes)    {mem:.0f} MiB RSS over {len(pids)} processes")
        print(f"idle CPU over 10 s                 {idle:.2f} %")
        print(f"dashboard open → figures and charts painted  median {med(dashboards):.0f} ms  best {min(dashboards):.0f} ms")
        s.quit()
        os.killpg(b.driver.pid, 15)
        b.driver.wait()
        b.s = None
        watch_idle(b)
    finally:
        b.tearDown()
    subprocess.run([SEED], env={**os.environ, "CATALOG_BENCH_ARTIFACTS": str(N)}, check=True)


if __name__ == "__main__":
    main()
