#!/usr/bin/env python3
"""Side-by-side transfer benchmark (run by scripts/bench): stowage vs rclone vs the AWS CLI,
against the S3 endpoint in STOWAGE_TEST_S3_ENDPOINT. Prints a Markdown table and writes the
raw figures to target/bench-results.json."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

STOWAGE = sys.argv[1]
ENDPOINT = os.environ["STOWAGE_TEST_S3_ENDPOINT"]
AK = os.environ.get("STOWAGE_TEST_S3_ACCESS_KEY", "testak")
SK = os.environ.get("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123")
REPS = int(os.environ.get("BENCH_REPS", "3"))
HUGE = os.environ.get("BENCH_HUGE", "1") != "0"
MIB = 1 << 20

work = tempfile.mkdtemp(prefix="stowage-bench-", dir=os.environ.get("BENCH_DIR"))
bucket = "bench-" + uuid.uuid4().hex[:10]


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def seed_cache_index(cache_dir, n):
    """Start stowage's cache afresh with an index of n entries (of no local files) as many
    earlier downloads leave it: what every download is entered beside."""
    import hashlib
    import sqlite3
    shutil.rmtree(cache_dir, ignore_errors=True)
    os.makedirs(cache_dir)
    db = sqlite3.connect(os.path.join(cache_dir, "index.sqlite3"))
    db.executescript("""PRAGMA journal_mode = WAL;
        CREATE TABLE entries (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,
          source TEXT NOT NULL, stored_at INTEGER NOT NULL, last_used INTEGER NOT NULL);
        CREATE INDEX entries_by_use ON entries(last_used);""")
    now = time.time_ns()
    db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
                   ((hashlib.sha256(b"%d" % i).hexdigest(), 1000, "bench:old/key", now, now)
                    for i in range(n)))
    db.commit()
    db.close()


def env_for(tool):
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1",
               AWS_REGION="us-east-1")
    if tool == "rclone":
        # rclone 1.60 refuses to start when AWS_CA_BUNDLE is set (see TESTING.md).
        env.pop("AWS_CA_BUNDLE", None)
        env.update(RCLONE_CONFIG_SW_TYPE="s3", RCLONE_CONFIG_SW_PROVIDER="Other",
                   RCLONE_CONFIG_SW_ENDPOINT=ENDPOINT, RCLONE_CONFIG_SW_ACCESS_KEY_ID=AK,
                   RCLONE_CONFIG_SW_SECRET_ACCESS_KEY=SK, RCLONE_CONFIG_SW_REGION="us-east-1",
                   RCLONE_CONFIG=os.path.join(work, "rclone.conf"))
    if tool == "stowage":
        env.update(STOWAGE_CONFIG_DIR=os.path.join(work, "cfg"),
                   STOWAGE_DATA_DIR=os.path.join(work, "sdata"),
                   STOWAGE_CACHE_DIR=os.path.join(work, "scache"), STOWAGE_PROFILE="bench")
    return env


def server_cpu():
    """CPU seconds used so far by the SeaweedFS processes (the server shares the cores)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"weed" not in f.read().split(b"\0")[0]:
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / tick


cpu = {}  # (tool, op) -> [(client CPU s, server CPU s)]


def run(tool, cmd, durable=False, op=None):
    """Run cmd; return (seconds, peak RSS in MB). With `durable`, the time runs until the
    written data is on disk: stowage syncs each download before renaming it, the others leave
    that to the kernel's writeback, which would otherwise land on whoever runs next."""
    os.sync()
    err = open(os.path.join(work, "stderr.txt"), "w+")
    s0 = server_cpu()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env_for(tool), stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(p.pid, 0)
    if durable:
        os.sync()
    dt = time.perf_counter() - t0
    if op:
        cpu.setdefault((tool, op), []).append(
            (usage.ru_utime + usage.ru_stime, server_cpu() - s0))
    if status != 0:
        err.seek(0)
        raise SystemExit(f"{' '.join(cmd)} failed: {err.read()[-2000:]}")
    return dt, usage.ru_maxrss / 1024


def commands(tool, op, rep, src, dest):
    remote = f"{tool}/{rep}"
    s3 = f"s3://{bucket}/{remote}"
    aws = ["/usr/bin/aws", "--endpoint-url", ENDPOINT, "s3", "cp", "--quiet"]
    st = [STOWAGE, "-q"]
    table = {
        ("stowage", "up1"): st + ["put", src, f"{bucket}/{remote}/big.bin"],
        ("rclone", "up1"): ["rclone", "copyto", src, f"sw:{bucket}/{remote}/big.bin"],
        ("aws", "up1"): aws + [src, f"{s3}/big.bin"],
        ("stowage", "down1"): st + ["get", f"{bucket}/{remote}/big.bin", dest, "--force"],
        ("rclone", "down1"): ["rclone", "copyto", f"sw:{bucket}/{remote}/big.bin", dest],
        ("aws", "down1"): aws + [f"{s3}/big.bin", dest],
        ("stowage", "upN"): st + ["put", str(src), f"{bucket}/{remote}/"],
        ("rclone", "upN"): ["rclone", "copy", src, f"sw:{bucket}/{remote}/many"],
        ("aws", "upN"): aws + ["--recursive", src, f"{s3}/many"],
        ("stowage", "downN"): st + ["get", "-r", f"{bucket}/{remote}/many/", dest],
        ("rclone", "downN"): ["rclone", "copy", f"sw:{bucket}/{remote}/many", dest],
        ("aws", "downN"): aws + ["--recursive", f"{s3}/many", dest],
    }
    return table[(tool, op)]


def main():
    big = os.path.join(work, "big.bin")
    many = os.path.join(work, "many")
    os.makedirs(many)
    print(f"scratch: {work}", file=sys.stderr)
    write_random(big, 1 << 30)
    for i in range(1000):
        with open(os.path.join(many, f"f{i:04d}.bin"), "wb") as f:
            f.write(os.urandom(100_000))
    os.makedirs(os.path.join(work, "cfg"))
    with open(os.path.join(work, "cfg", "config.toml"), "w") as f:
        f.write(f'[profiles.bench]\nkind = "s3"\nendpoint = "{ENDPOINT}"\n'
                'region = "us-east-1"\npath_style = true\n')
    run("stowage", [STOWAGE, "-q", "buckets", "create", bucket])

    tools = ["stowage", "rclone", "aws"]
    ops = {"up1": (big, 1 << 30), "down1": (None, 1 << 30),
           "upN": (many, 1000 * 100_000), "downN": (None, 1000 * 100_000)}
    results = {t: {o: [] for o in ops} for t in tools}
    for rep in range(REPS):
        # Rotate the order so no tool always runs first (or last) on a warm server.
        order = tools[rep % 3:] + tools[:rep % 3]
        for op, (src, _) in ops.items():
            for tool in order:
                dest = os.path.join(work, "dl", f"{tool}-{rep}-{op}")
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                if op == "downN":
                    os.makedirs(dest, exist_ok=True)
                if tool == "stowage" and op.startswith("down"):
                    # Every rep stores the same bytes, so stowage's download cache would serve
                    # later reps without the network: each download starts with it empty.
                    shutil.rmtree(os.path.join(work, "scache"), ignore_errors=True)
                dt, rss = run(tool, commands(tool, op, rep, src, dest),
                              durable=op.startswith("down"), op=op)
                results[tool][op].append((dt, rss))
                print(f"{op:6} {tool:8} rep {rep}: {dt:6.2f} s  {rss:6.0f} MB", file=sys.stderr)
                # The 1,000 small files stay until the end: ext4 passes over recently freed
                # inodes when it allocates, so deleting them here would slow whichever tool
                # creates files next.
                if op != "downN":
                    shutil.rmtree(dest, ignore_errors=True)

    # stowage's download cache: 1,000 × 100 KB again once cached, and (cold for these files)
    # with an index already holding 100,000 entries from earlier downloads.
    cached = {}
    for case in ("warm", "large-index"):
        times = []
        for rep in range(REPS):
            dest = os.path.join(work, "dl", f"cache-{case}-{rep}")
            os.makedirs(dest)
            if case == "large-index":
                seed_cache_index(os.path.join(work, "scache"), 100_000)
            dt, _ = run("stowage", commands("stowage", "downN", 0, None, dest), durable=True)
            times.append(dt)
        cached[case] = statistics.median(times)
        print(f"downN stowage cache {case}: {cached[case]:.2f} s", file=sys.stderr)

    huge = None
    if HUGE:
        path = os.path.join(work, "huge.bin")
        write_random(path, 5 << 30)
        dt, rss = run("stowage", [STOWAGE, "-q", "put", path, f"{bucket}/huge/huge.bin"])
        huge = {"seconds": dt, "peak_rss_mb": rss, "bytes": 5 << 30}
        os.remove(path)
        print(f"5 GiB upload: {dt:.1f} s, peak RSS {rss:.0f} MB", file=sys.stderr)

    names = {"up1": "upload 1 GiB file", "down1": "download 1 GiB file",
             "upN": "upload 1,000 × 100 KB", "downN": "download 1,000 × 100 KB"}
    med = {t: {o: statistics.median(x[0] for x in results[t][o]) for o in ops} for t in tools}
    rss = {t: {o: max(x[1] for x in results[t][o]) for o in ops} for t in tools}
    print(f"\nSeaweedFS 4.48 on loopback, {os.cpu_count()} cores; median of {REPS} runs; "
          "throughput in MB/s (10^6 bytes); peak RSS in MB; downloads timed until the data "
          "is on disk (sync).\n")
    print("| operation | stowage | rclone 1.60 | AWS CLI 2.9 | stowage ÷ rclone | stowage ÷ AWS CLI |")
    print("|---|---|---|---|---|---|")
    for op, (_, size) in ops.items():
        cells = [f"{size / 1e6 / med[t][op]:.0f} MB/s ({med[t][op]:.2f} s, {rss[t][op]:.0f} MB)"
                 for t in tools]
        r1 = med["rclone"][op] / med["stowage"][op]
        r2 = med["aws"][op] / med["stowage"][op]
        print(f"| {names[op]} | {' | '.join(cells)} | {r1:.2f}× | {r2:.2f}× |")
    print("\nCPU seconds per run, median (the client's own; SeaweedFS's during it):\n")
    print("| operation | " + " | ".join(f"{t} client / server" for t in tools) + " |")
    print("|---|---|---|---|")
    for op in ops:
        cells = []
        for t in tools:
            c = statistics.median(x[0] for x in cpu[(t, op)])
            sv = statistics.median(x[1] for x in cpu[(t, op)])
            cells.append(f"{c:.2f} / {sv:.2f}")
        print(f"| {names[op]} | {' | '.join(cells)} |")
    base = med["stowage"]["downN"]
    print(f"\nstowage download of 1,000 × 100 KB: {base:.2f} s with an empty cache (above); "
          f"{cached['warm']:.2f} s served from its cache; {cached['large-index']:.2f} s with "
          "100,000 other entries in the cache's index.")
    if huge:
        print(f"\nstowage upload of a 5 GiB file: {huge['seconds']:.1f} s "
              f"({huge['bytes'] / 1e6 / huge['seconds']:.0f} MB/s), peak RSS {huge['peak_rss_mb']:.0f} MB.")
    with open(os.path.join(os.path.dirname(STOWAGE), "..", "bench-results.json"), "w") as f:
        json.dump({"results": results, "huge": huge, "reps": REPS, "cached": cached,
                   "cpu": {f"{t}/{o}": v for (t, o), v in cpu.items()}}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
