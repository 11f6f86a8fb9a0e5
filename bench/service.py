#!/usr/bin/env python3
"""`ferry serve` with many scheduled syncs (issue 15, item 9).

    bench/service.py              # 1,000 syncs, 2 slots, 60 s idle windows, 3 x 20 s per endpoint
    bench/service.py --quick      # 200 syncs, 1 slot, 20 s idle windows, 1 x 5 s per endpoint
    bench/service.py --syncs 500 --slots 1 --idle 30 --load 10 --reps 2 --clients 50
    bench/service.py --no-build   # use target/release/ferry as it is
    bench/run --service [...]     # the same

It builds ferry in release, writes N local -> local syncs (each its own source folder of 3
files of a few hundred bytes and its own empty destination folder, in a temporary folder
under target/), starts `ferry serve --listen 127.0.0.1:0 --json` on them and measures:

1. the idle service's CPU (user + system of /proc/PID/stat over a window in which no slot
   is due: every sync is scheduled once a day, 12 h away) and its RSS (VmRSS / VmHWM of
   /proc/PID/status), once fresh and once after the runs;
2. how late runs start after their slot: the config is reloaded with `schedule = "every 1m"`
   for every sync (POST /api/reload), one or two minute boundaries pass, then the far
   schedule is reloaded again; each run's `started_ns` in the state database (SQLite,
   table `runs`) minus its slot gives p50 / p99; also how long each slot's whole batch
   took, how many runs went at once, and how many were skipped;
3. API latency under C concurrent keep-alive HTTP/1.1 clients (threads, http.client) for
   GET /api/syncs, /metrics and /api/runs?limit=20, in turns (the first endpoint rotating
   per repetition), each after a one-client baseline; requests/s, the service's CPU and
   the client's own CPU (a Python client is one core at most, under the GIL);
4. stopping (SIGTERM: exit code and time) and starting again over the state the runs left.

Output: a markdown summary on stdout and in bench/results/latest-service.md, the same as
JSON in bench/results/latest-service.json (--quick: latest-service-quick.*; other sizes:
latest-service-partial.*, not kept in git). The service's stderr is kept in the JSON.

Python 3 standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import resource
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DATA = REPO / "target" / "bench-data"
FERRY = REPO / "target" / "release" / "ferry"
# The compiled policy plugin, shared with bench/run (the same generic plugin).
CACHE = DATA / "ferry-cache"
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: the source files' times
TICKS = os.sysconf("SC_CLK_TCK")
TOKEN = "ferry-bench-token-" + "%016x" % random.SystemRandom().getrandbits(64)
FILES_PER_SYNC = 3
ENDPOINTS = ["/api/syncs", "/metrics", "/api/runs?limit=20"]

FULL = {"syncs": 1000, "slots": 2, "idle": 60, "load": 20, "baseline": 3, "clients": 50, "reps": 3}
QUICK = {"syncs": 200, "slots": 1, "idle": 20, "load": 5, "baseline": 2, "clients": 50, "reps": 1}
# How long after the last slot the whole batch may take before the bench gives up on it.
BATCH_TIMEOUT = 900
START_TIMEOUT = 120


def log(message):
    print(f"[service-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build():
    log("cargo build --release -p ferry --bins (the first build takes several minutes)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ferry", "--bins"],
                   cwd=REPO, stdout=sys.stderr, check=True)


def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else ""
    except OSError as error:
        return str(error)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def rounded(value, digits=3):
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------------------
# The process, from /proc


def proc_sample(pid):
    """CPU seconds (user + system, all threads), VmRSS / VmHWM (KiB) and threads of `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    sample = {"t": time.time(), "cpu_s": (int(fields[11]) + int(fields[12])) / TICKS}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            sample[key.lower() + "_kib"] = int(value.split()[0])
        elif key == "Threads":
            sample["threads"] = int(value)
    return sample


def context_switches(pid):
    """(name, voluntary + involuntary context switches) of each of `pid`'s threads, by
    thread id."""
    switches = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        name = text.splitlines()[0].split(":", 1)[1].strip()
        switches[tid] = (name, sum(int(line.split()[1]) for line in text.splitlines()
                                   if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))))
    return switches


def switches_between(before, after):
    """Context switches from `before` to `after` by thread name (threads started meanwhile
    count whole), most first."""
    by_name = {}
    for tid, (name, count) in after.items():
        by_name[name] = by_name.get(name, 0) + count - before.get(tid, (name, 0))[1]
    return dict(sorted(by_name.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------------------------------
# The syncs


def make_trees(work, count):
    """Each sync's source folder (3 files of 200–800 bytes, seeded) and empty destination."""
    rng = random.Random(15)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n"
    total = 0
    for i in range(1, count + 1):
        src, dst = work / "src" / f"{i:04d}", work / "dst" / f"{i:04d}"
        src.mkdir(parents=True)
        dst.mkdir(parents=True)
        for name in ("a.txt", "b.txt", "c.txt")[:FILES_PER_SYNC]:
            size = rng.randint(200, 800)
            path = src / name
            path.write_text("".join(rng.choice(alphabet) for _ in range(size)))
            os.utime(path, (EPOCH, EPOCH))
            total += size
    return total


def far_schedule():
    """A cron slot 12 hours from now (UTC): nothing is due for hours."""
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=12)
    return f"{at.minute} {at.hour} * * *"


def write_config(path, count, schedule, max_runs=None):
    work = path.parent
    lines = ["[state]", f'dir = "{work / "state"}"', "", "[service]", 'token_env = "FERRY_TOKEN"']
    if max_runs:
        lines.append(f"max_runs = {max_runs}")
    for i in range(1, count + 1):
        k = f"{i:04d}"
        lines += [
            "", f"[remotes.src{k}]", 'type = "local"', f'path = "{work / "src" / k}"',
            "", f"[remotes.dst{k}]", 'type = "local"', f'path = "{work / "dst" / k}"',
            "", f"[syncs.s{k}]", f'source = "src{k}"', f'destination = "dst{k}"', f'schedule = "{schedule}"',
        ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def env_for(work):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(FERRY_CACHE_DIR=str(CACHE), FERRY_TOKEN=TOKEN)
    return env


def warm_plugin_cache(work):
    """One `ferry run` of a one-sync config, so that the generic policy plugin is compiled
    into the cache before the service's first run loads it."""
    warm = work / "warmup"
    (warm / "src").mkdir(parents=True)
    (warm / "dst").mkdir()
    (warm / "src" / "a.txt").write_text("warm-up\n")
    config = warm / "ferry.toml"
    config.write_text(
        f'[state]\ndir = "{warm / "state"}"\n[remotes.a]\ntype = "local"\npath = "{warm / "src"}"\n'
        f'[remotes.b]\ntype = "local"\npath = "{warm / "dst"}"\n[syncs.w]\nsource = "a"\ndestination = "b"\n'
    )
    started = time.perf_counter()
    done = subprocess.run([str(FERRY), "--config", str(config), "--json", "run", "w"],
                          env=env_for(work), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"service-bench: the warm-up run failed ({done.returncode}):\n{done.stderr}")
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------
# The service


class Service:
    """One `ferry serve`, in a process group of its own; stdout and stderr kept in files."""

    def __init__(self, work, config, label):
        self.stdout_path = work / f"serve-{label}.stdout"
        self.stderr_path = work / f"serve-{label}.stderr"
        self.stderr = open(self.stderr_path, "wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(FERRY), "--config", str(config), "serve", "--listen", "127.0.0.1:0", "--json"],
            env=env_for(work), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr,
            start_new_session=True,
        )
        self.pid = self.process.pid
        line = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, left))
            if not ready:
                self.kill()
                sys.exit(f"service-bench: ferry serve did not say where it listens in {START_TIMEOUT} s")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                self.process.wait()
                sys.exit(f"service-bench: ferry serve exited ({self.process.returncode}):\n"
                         f"{self.stderr_path.read_text(errors='replace')}")
            line += chunk
        self.start_seconds = time.perf_counter() - started
        first, _, rest = line.partition(b"\n")
        self.address = json.loads(first)["listening"]
        self.host, port = self.address.rsplit(":", 1)
        self.port = int(port)
        # Keep draining stdout (nothing more is expected) so that the pipe never fills.
        self.drain = threading.Thread(target=self._drain, args=(rest,), daemon=True)
        self.drain.start()

    def _drain(self, rest):
        with open(self.stdout_path, "wb") as out:
            out.write(rest)
            for chunk in iter(lambda: self.process.stdout.read1(65536), b""):
                out.write(chunk)

    def sample(self):
        return proc_sample(self.pid)

    def request(self, method, path, body=None, timeout=120):
        """(status, body bytes, seconds) of one request on a connection of its own."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {TOKEN}"} if method == "POST" else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data, time.perf_counter() - started
        finally:
            conn.close()

    def reload(self):
        status, data, seconds = self.request("POST", "/api/reload")
        if status != 200:
            sys.exit(f"service-bench: POST /api/reload answered {status}: {data[:500]!r}")
        return seconds

    def stop(self, timeout=120):
        """SIGTERM, then wait: (exit code, seconds)."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = "killed after SIGTERM timeout"
        self.drain.join(timeout=5)
        self.stderr.close()
        return code, time.perf_counter() - started

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def idle_window(service, seconds, label):
    """CPU (% of one core), context switches per second and memory over `seconds` in which
    nothing is due."""
    log(f"idle window ({label}): {seconds} s")
    before, switches = service.sample(), context_switches(service.pid)
    rss = [before["vmrss_kib"]]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(5.0, max(0.0, end - time.monotonic())))
        rss.append(service.sample()["vmrss_kib"])
    after, switched = service.sample(), context_switches(service.pid)
    elapsed = after["t"] - before["t"]
    cpu = after["cpu_s"] - before["cpu_s"]
    by_thread = switches_between(switches, switched)
    return {
        "label": label,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu, 3),
        "cpu_percent": round(100 * cpu / elapsed, 3),
        "context_switches_per_s": round(sum(by_thread.values()) / elapsed, 2),
        "context_switches_per_s_by_thread": {k: round(v / elapsed, 2) for k, v in by_thread.items() if v},
        "vmrss_kib": after["vmrss_kib"],
        "vmrss_min_max_kib": [min(rss), max(rss)],
        "vmhwm_kib": after["vmhwm_kib"],
        "threads": after["threads"],
    }


# ---------------------------------------------------------------------------------------
# Scheduled runs


def db_connect(work):
    conn = sqlite3.connect(f"file:{work / 'state' / 'ferry.db'}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA query_only = 1")
    return conn


METRIC_LINE = re.compile(r"^(ferry_runs_total|ferry_runs|ferry_runs_in_progress)\{[^}]*\} (\S+)$")


def metric_sums(text):
    """(runs ended or skipped, runs in progress): sums over every sync of a /metrics answer."""
    ended = in_progress = 0
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            value = int(float(match.group(2)))
            if match.group(1) == "ferry_runs_in_progress":
                in_progress += value
            else:
                ended += value
    return ended, in_progress


def scheduled_runs(service, config, count, slots, far, max_runs):
    """Reload with `every 1m`, let `slots` minute boundaries pass, reload the far schedule
    again, and wait for every run to end (watched through /metrics: the state database is
    left alone meanwhile, so that no reader of ours is in the way of its checkpoints)."""
    _, body, _ = service.request("GET", "/metrics")
    base, _ = metric_sums(body.decode())
    write_config(config, count, "every 1m", max_runs)
    reload_at = time.time()
    service.reload()
    first_slot = (int(reload_at) // 60 + 1) * 60
    slot_times = [first_slot + 60 * k for k in range(slots)]
    log(f"every 1m: slot(s) at {', '.join(time.strftime('%H:%M:%S', time.gmtime(s)) for s in slot_times)} UTC; "
        f"{first_slot - time.time():.0f} s to the first")
    samples, progress, probes = [], [], []
    far_reloaded = None
    probed = set()
    base_cpu = service.sample()["cpu_s"]
    deadline = slot_times[-1] + BATCH_TIMEOUT
    timed_out = False
    last_log = 0.0
    while True:
        now = time.time()
        sample = service.sample()
        samples.append(sample)
        if now >= first_slot:
            status, body, seconds = service.request("GET", "/metrics")
            ended, in_progress = metric_sums(body.decode(errors="replace")) if status == 200 else (0, -1)
            ended -= base
            progress.append({"t": round(now - first_slot, 2), "ended": ended, "in_progress": in_progress,
                             "threads": sample["threads"], "vmrss_kib": sample["vmrss_kib"],
                             "metrics_ms": round(seconds * 1000, 1)})
            # What the API says while a batch goes on.
            for slot in slot_times:
                for offset in PROBES:
                    if now >= slot + offset and (slot, offset) not in probed and far_reloaded is None:
                        probed.add((slot, offset))
                        probes.append(probe_during_batch(service, slot, offset))
            if far_reloaded is None and now >= slot_times[-1] + 10:
                write_config(config, count, far, max_runs)
                service.reload()
                far_reloaded = time.time()
                log(f"far schedule reloaded {far_reloaded - slot_times[-1]:.1f} s after the last slot")
            if far_reloaded is not None and ended >= count * slots and in_progress == 0:
                break
            if now > deadline:
                timed_out = True
                log(f"gave up waiting for the batch after {BATCH_TIMEOUT} s ({ended} of {count * slots} ended)")
                break
            if now - last_log >= 10:
                last_log = now
                log(f"+{now - first_slot:.0f} s: {ended} of {count * slots} runs ended or skipped, "
                    f"{in_progress} in progress, RSS {sample['vmrss_kib'] / 1024:.0f} MiB, {sample['threads']} threads")
        near = any(-2 <= now - slot <= 10 for slot in slot_times)
        time.sleep(0.1 if near else 0.5)
    end = service.sample()
    return {
        "reload_at": reload_at,
        "slot_times": slot_times,
        "far_reloaded_after_last_slot_s": None if far_reloaded is None else round(far_reloaded - slot_times[-1], 2),
        "timed_out": timed_out,
        "cpu_seconds": round(end["cpu_s"] - base_cpu, 2),
        "wall_seconds": round(end["t"] - first_slot, 2),
        "peak_threads": max(s["threads"] for s in samples),
        "peak_vmrss_kib": max(s["vmrss_kib"] for s in samples),
        "vmhwm_kib": end["vmhwm_kib"],
        "progress": progress,
        "probes": probes,
    }


# Seconds after each slot at which the API is asked how the batch goes.
PROBES = (0.2, 1, 3)


def probe_during_batch(service, slot, offset):
    """One GET /metrics and one GET /api/syncs while the batch of `slot` goes on."""
    probe = {"slot": slot, "after_slot_s": offset, "at_s": round(time.time() - slot, 2)}
    status, body, seconds = service.request("GET", "/metrics")
    probe["metrics_status"], probe["metrics_seconds"] = status, round(seconds, 4)
    probe["metrics_runs_in_progress"] = metric_sums(body.decode(errors="replace"))[1]
    status, body, seconds = service.request("GET", "/api/syncs")
    probe["syncs_status"], probe["syncs_seconds"] = status, round(seconds, 4)
    phases = {}
    try:
        for sync in json.loads(body)["syncs"]:
            if sync.get("running"):
                phase = sync["running"].get("phase", "running")
                phases[phase] = phases.get(phase, 0) + 1
    except (ValueError, KeyError):
        phases = None
    probe["syncs_running_by_phase"] = phases
    return probe


SKIP_NOTE = re.compile(r"the slot at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC was skipped")


def analyse_runs(work, count, run_info):
    """Each run's lateness after its slot, each slot's batch, concurrency, statuses."""
    slot_times = run_info["slot_times"]
    conn = db_connect(work)
    rows = conn.execute(
        "SELECT id, sync, started_ns, finished_ns, status, note FROM runs WHERE started_ns >= ? ORDER BY id",
        (int(run_info["reload_at"] * 1e9),)).fetchall()
    total_rows = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    conn.close()
    by_sync = {}
    for row in rows:
        by_sync.setdefault(row[1], []).append(row)
    per_slot = {slot: {"late": [], "ends": [], "starts": [], "durations": [], "statuses": {}, "skip_late": []}
                for slot in slot_times}
    anomalies = []
    intervals = []
    for sync, runs in sorted(by_sync.items()):
        # A skip names its slot; the real runs take the remaining slots in order (a skip of
        # slot 2 is recorded before the slot-1 run it waited behind starts).
        free = list(slot_times)
        assigned = []
        for run in runs:
            if run[4] == "skipped":
                match = SKIP_NOTE.search(run[5] or "")
                slot = None
                if match:
                    at = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
                    slot = int(at.replace(tzinfo=datetime.timezone.utc).timestamp())
                if slot in free:
                    free.remove(slot)
                    assigned.append((slot, run))
                else:
                    anomalies.append(f"{sync}: skip of an unexpected slot: {run[5]!r}")
        for run in runs:
            if run[4] == "skipped":
                continue
            if not free:
                anomalies.append(f"{sync}: run {run[0]} beyond the {len(slot_times)} slot(s)")
                continue
            assigned.append((free.pop(0), run))
        if free:
            anomalies.append(f"{sync}: no run for slot(s) {free}")
        for slot, (rid, _, started, finished, status, note) in assigned:
            s = per_slot[slot]
            s["statuses"][status] = s["statuses"].get(status, 0) + 1
            late = started / 1e9 - slot
            if status == "skipped":
                s["skip_late"].append(late)
                continue
            s["late"].append(late)
            s["starts"].append(started / 1e9)
            if finished:
                s["ends"].append(finished / 1e9)
                s["durations"].append((finished - started) / 1e9)
                intervals.append((started, finished))
    if len(by_sync) != count:
        anomalies.append(f"{count - len(by_sync)} sync(s) have no run at all")
    # Runs going on at once: the largest overlap of [started, finished] intervals.
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda e: (e[0], e[1]))
    now_running = most = 0
    for _, change in events:
        now_running += change
        most = max(most, now_running)
    slots = []
    for slot in slot_times:
        s = per_slot[slot]
        ran = len(s["late"])
        entry = {
            "slot_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(slot)),
            "runs": ran,
            "statuses": dict(sorted(s["statuses"].items())),
            "skipped": s["statuses"].get("skipped", 0),
            "late_p50_s": rounded(pct(s["late"], 50)),
            "late_p90_s": rounded(pct(s["late"], 90)),
            "late_p99_s": rounded(pct(s["late"], 99)),
            "late_min_s": rounded(min(s["late"]) if s["late"] else None),
            "late_max_s": rounded(max(s["late"]) if s["late"] else None),
            "run_seconds_p50": rounded(pct(s["durations"], 50), 4),
            "run_seconds_p99": rounded(pct(s["durations"], 99), 4),
            "batch_seconds": rounded(max(s["ends"]) - slot if s["ends"] else None, 2),
            "runs_per_second": rounded(ran / (max(s["ends"]) - min(s["starts"])), 1)
            if len(s["ends"]) > 1 and max(s["ends"]) > min(s["starts"]) else None,
            "skip_recorded_late_p50_s": rounded(pct(s["skip_late"], 50)),
            "skip_recorded_late_max_s": rounded(max(s["skip_late"]) if s["skip_late"] else None),
        }
        slots.append(entry)
    return {"slots": slots, "max_concurrent_runs": most, "rows_in_state": total_rows,
            "anomalies": anomalies[:20], "anomaly_count": len(anomalies)}


def query_plan(work):
    """How SQLite (Python's, which may differ from ferry's bundled one) plans the store's
    latest-run query, and what reading every sync's latest run costs with it and with a
    plain `sync = ?` query."""
    conn = db_connect(work)
    syncs = [r[0] for r in conn.execute("SELECT DISTINCT sync FROM runs")]
    store_sql = ("SELECT id, sync, started_ns, finished_ns, status FROM runs WHERE (?1 IS NULL OR sync = ?1) "
                 "AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?2")
    plain_sql = "SELECT id, sync, started_ns, finished_ns, status FROM runs WHERE sync = ?1 ORDER BY id DESC LIMIT ?2"
    out = {"sqlite": sqlite3.sqlite_version}
    for label, sql, params in (("store", store_sql, lambda s: (s, 1, None)), ("sync_only", plain_sql, lambda s: (s, 1))):
        plan = conn.execute("EXPLAIN QUERY PLAN " + sql, params("s0001")).fetchall()
        started = time.perf_counter()
        for _ in range(3):
            for sync in syncs:
                conn.execute(sql, params(sync)).fetchall()
        out[label] = {"plan": "; ".join(r[-1] for r in plan),
                      "ms_for_every_sync": round((time.perf_counter() - started) / 3 * 1000, 2)}
    conn.close()
    return out


# ---------------------------------------------------------------------------------------
# API load


def load(service, path, clients, seconds):
    """`clients` threads, each on one keep-alive connection, GET `path` until `seconds`
    have passed. Latencies from sending the request to having read the whole answer."""
    latencies = [[] for _ in range(clients)]
    ends = [0.0] * clients
    errors, sizes = [], set()
    gate = threading.Barrier(clients + 1)
    window = {}

    def worker(i):
        conn = http.client.HTTPConnection(service.host, service.port, timeout=120)
        mine = latencies[i]
        gate.wait()
        deadline = window["deadline"]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors.append(repr(error))
                conn.close()
                conn = http.client.HTTPConnection(service.host, service.port, timeout=120)
                continue
            finished = time.perf_counter()
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
            else:
                mine.append(finished - started)
                sizes.add(len(body))
            ends[i] = finished
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    before, usage = service.sample(), resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    window["deadline"] = start + seconds
    gate.wait()
    for thread in threads:
        thread.join()
    elapsed = max(max(ends), start + 1e-9) - start
    after, usage_after = service.sample(), resource.getrusage(resource.RUSAGE_SELF)
    every = [x for mine in latencies for x in mine]
    client_cpu = (usage_after.ru_utime - usage.ru_utime) + (usage_after.ru_stime - usage.ru_stime)
    return {
        "path": path,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(every),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "requests_per_s": round(len(every) / elapsed, 1),
        "p50_ms": rounded(pct(every, 50) * 1000 if every else None, 2),
        "p90_ms": rounded(pct(every, 90) * 1000 if every else None, 2),
        "p99_ms": rounded(pct(every, 99) * 1000 if every else None, 2),
        "max_ms": rounded(max(every) * 1000 if every else None, 2),
        "body_bytes": sorted(sizes)[-1] if sizes else None,
        "service_cpu_cores": round((after["cpu_s"] - before["cpu_s"]) / elapsed, 2),
        "client_cpu_cores": round(client_cpu / elapsed, 2),
        "vmrss_kib_after": after["vmrss_kib"],
        "vmhwm_kib_after": after["vmhwm_kib"],
        "threads_after": after["threads"],
        "latencies_ms": [round(x * 1000, 3) for x in every],
    }


def api_phase(service, sizes):
    """A one-client baseline of each endpoint, then `reps` rounds of `clients` clients per
    endpoint, the first endpoint rotating from one round to the next."""
    status, body, _ = service.request("GET", "/api/syncs")
    listed = len(json.loads(body)["syncs"]) if status == 200 else None
    status, body, _ = service.request("GET", "/api/runs?limit=1")
    runs = json.loads(body).get("runs") if status == 200 else None
    run_report_keys = sorted(runs[0]) if runs else None
    # The status page (what a person opens): a few requests, one at a time.
    page = []
    for _ in range(3):
        status, body, seconds = service.request("GET", "/")
        page.append({"status": status, "ms": round(seconds * 1000, 1), "bytes": len(body)})
    log(f"GET / (status page): {', '.join(str(p['ms']) for p in page)} ms, {page[-1]['bytes']:,} bytes")
    baseline = {}
    for path in ENDPOINTS:
        log(f"1 client: GET {path} for {sizes['baseline']} s")
        baseline[path] = load(service, path, 1, sizes["baseline"])
    rounds = []
    for rep in range(sizes["reps"]):
        order = ENDPOINTS[rep % len(ENDPOINTS):] + ENDPOINTS[:rep % len(ENDPOINTS)]
        for path in order:
            log(f"round {rep + 1}/{sizes['reps']}: {sizes['clients']} clients, GET {path} for {sizes['load']} s")
            result = load(service, path, sizes["clients"], sizes["load"])
            result["rep"] = rep + 1
            rounds.append(result)
            log(f"  {result['requests_per_s']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                f"{result['errors']} errors, service {result['service_cpu_cores']} cores, "
                f"client {result['client_cpu_cores']} cores")
    summary = {}
    for path in ENDPOINTS:
        mine = [r for r in rounds if r["path"] == path]
        pooled = [x for r in mine for x in r["latencies_ms"]]
        summary[path] = {
            "clients": sizes["clients"],
            "rounds": len(mine),
            "requests": sum(r["requests"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
            "requests_per_s_median": statistics.median(r["requests_per_s"] for r in mine),
            "requests_per_s_min_max": [min(r["requests_per_s"] for r in mine), max(r["requests_per_s"] for r in mine)],
            "p50_ms": rounded(pct(pooled, 50), 2),
            "p99_ms": rounded(pct(pooled, 99), 2),
            "p99_ms_per_round": [r["p99_ms"] for r in mine],
            "max_ms": rounded(max(pooled) if pooled else None, 2),
            "body_bytes": mine[0]["body_bytes"],
            "service_cpu_cores_median": statistics.median(r["service_cpu_cores"] for r in mine),
            "client_cpu_cores_median": statistics.median(r["client_cpu_cores"] for r in mine),
            "one_client": {k: baseline[path][k] for k in ("requests", "requests_per_s", "p50_ms", "p99_ms",
                                                           "max_ms", "service_cpu_cores", "body_bytes")},
        }
    for r in [*rounds, *baseline.values()]:
        r.pop("latencies_ms")
    return {"syncs_listed": listed, "run_report_keys": run_report_keys, "status_page": page,
            "summary": summary, "rounds": rounds,
            "one_client": list(baseline.values())}


# ---------------------------------------------------------------------------------------
# The service's stderr


def stderr_summary(path):
    text = path.read_text(errors="replace") if path.exists() else ""
    ansi = "\x1b[" in text
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    kinds = {"error": 0, "warn": 0, "panic": 0}
    for line in lines:
        low = line.lower()
        kinds["panic"] += "panicked" in low
        kinds["error"] += " error " in low or "error:" in low or low.startswith("error")
        kinds["warn"] += " warn " in low or low.startswith("warn")
    # The distinct messages, with times and numbers blanked, most frequent first.
    shapes = {}
    for line in lines:
        shape = re.sub(r"\d+", "N", re.sub(r"^\S+Z\s+", "", line))[:300]
        shapes[shape] = shapes.get(shape, 0) + 1
    distinct = sorted(shapes.items(), key=lambda kv: -kv[1])[:15]
    return {"lines": len(lines), **kinds, "ansi_colours": ansi,
            "distinct": [{"count": n, "line": shape} for shape, n in distinct],
            "tail": lines[-10:]}


# ---------------------------------------------------------------------------------------
# The report


def mib(kib):
    return f"{kib / 1024:.1f}"


def markdown(result):
    meta, sizes = result["meta"], result["sizes"]
    lines = [
        f"`ferry serve` with {sizes['syncs']:,} scheduled syncs (issue 15, item 9) — {meta['date']}, "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}), load average before: {meta['load_before']}, "
        f"after: {meta['load_after']}; ferry binary built {meta['versions'].get('binary_built', '?')}, "
        f"tree {meta['versions']['git']} when run.",
        "",
        f"Each sync: local → local, its own source folder of {FILES_PER_SYNC} files "
        f"({result['bytes_per_sync_avg']:.0f} bytes a sync on average) and its own destination; "
        f"`max_runs` = {result['max_runs']} (the service's default unless set). "
        f"Start: {result['start']['seconds']:.2f} s to listen (empty state).",
        "",
        "**Idle** (no slot due; CPU over the window, % of one core):",
        "",
        "| when | window s | CPU % | context switches/s | VmRSS MiB | VmHWM MiB | threads |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for w in result["idle"]:
        lines.append(f"| {w['label']} | {w['seconds']:.0f} | {w['cpu_percent']:.3f} | {w['context_switches_per_s']:.1f} "
                     f"| {mib(w['vmrss_kib'])} | {mib(w['vmhwm_kib'])} | {w['threads']} |")
    lines += ["", "Context switches per second by thread (wake-ups while idle): " + "; ".join(
        f"{w['label']}: " + ", ".join(f"{k} {v}" for k, v in list(w["context_switches_per_s_by_thread"].items())[:3])
        for w in result["idle"]) + "."]
    runs = result["runs"]
    lines += [
        "",
        f"**Scheduled runs** (`schedule = \"every 1m\"` for all {sizes['syncs']:,}; lateness = the run's "
        "`started_ns` in the state minus its slot; batch = the slot's last run's end minus the slot):",
        "",
        "| slot (UTC) | runs | skipped | late p50 s | late p90 s | late p99 s | late max s | batch s | runs/s | run s p50 / p99 | statuses | VmRSS MiB after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for s in runs["slots"]:
        statuses = ", ".join(f"{k} {v}" for k, v in s["statuses"].items())
        lines.append(
            f"| {s['slot_utc']} | {s['runs']} | {s['skipped']} | {s['late_p50_s']} | {s['late_p90_s']} | "
            f"{s['late_p99_s']} | {s['late_max_s']} | {s['batch_seconds']} | {s['runs_per_second']} | "
            f"{s['run_seconds_p50']} / {s['run_seconds_p99']} | {statuses} | "
            f"{mib(s['vmrss_kib_end_of_minute']) if s.get('vmrss_kib_end_of_minute') else '—'} |")
    b = result["batch_process"]
    lines += [
        "",
        f"At most {runs['max_concurrent_runs']} runs went at once (overlap of the runs' start–end). "
        f"During the batch(es): {b['cpu_seconds']} CPU s over {b['wall_seconds']} s from the first slot, "
        f"peak VmRSS {mib(b['peak_vmrss_kib'])} MiB, VmHWM {mib(b['vmhwm_kib'])} MiB, peak {b['peak_threads']} threads. "
        f"{runs['rows_in_state']:,} rows in `runs` afterwards. "
        f"{'Every sync had one row per slot.' if not runs['anomaly_count'] else str(runs['anomaly_count']) + ' anomalies: ' + '; '.join(runs['anomalies'][:3])}",
    ]
    if b["probes"]:
        lines += ["", "While a batch went on (one request each; `/api/syncs` shows each running sync's phase):", "",
                  "| slot (UTC) | asked at | runs_in_progress (/metrics) | /api/syncs: waiting / scanning / transferring | /metrics ms | /api/syncs ms |",
                  "|---|---:|---:|---:|---:|---:|"]
        for p in b["probes"]:
            ph = p["syncs_running_by_phase"] or {}
            lines.append(f"| {time.strftime('%H:%M:%S', time.gmtime(p['slot']))} | +{p['at_s']} s | {p['metrics_runs_in_progress']} | "
                         f"{ph.get('waiting', 0)} / {ph.get('scanning', 0)} / {ph.get('transferring', 0)} | "
                         f"{p['metrics_seconds'] * 1000:.1f} | {p['syncs_seconds'] * 1000:.1f} |")
    api = result["api"]
    lines += [
        "",
        f"**API**, idle service, {sizes['clients']} keep-alive HTTP/1.1 clients (Python threads, http.client), "
        f"{sizes['reps']} round(s) of {sizes['load']} s per endpoint, endpoints in turns; pooled percentiles. "
        f"`/api/syncs` listed {api['syncs_listed']} syncs.",
        "",
        "| GET | answer KiB | req/s (median) | p50 ms | p99 ms | max ms | errors | service CPU cores | client CPU cores | 1 client: req/s, p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for path, s in api["summary"].items():
        one = s["one_client"]
        lines.append(
            f"| `{path}` | {(s['body_bytes'] or 0) / 1024:.0f} | {s['requests_per_s_median']} | {s['p50_ms']} | {s['p99_ms']} | "
            f"{s['max_ms']} | {s['errors']} | {s['service_cpu_cores_median']} | {s['client_cpu_cores_median']} | "
            f"{one['requests_per_s']}, {one['p50_ms']} / {one['p99_ms']} |")
    page = api.get("status_page")
    if page:
        lines += ["", f"Status page (`GET /`, one request at a time): {', '.join(str(p['ms']) for p in page)} ms, "
                      f"{page[-1]['bytes'] / 1024:.0f} KiB (HTTP {page[-1]['status']})."]
    after = result["after_api"]
    qp = result["query_plan"]
    stop, restart = result["stop"], result["restart"]
    lines += [
        "",
        f"After the API load: VmRSS {mib(after['vmrss_kib'])} MiB, VmHWM {mib(after['vmhwm_kib'])} MiB, {after['threads']} threads "
        f"(threads after each round: {', '.join(str(r['threads_after']) for r in api['rounds'])}); 15 s later: "
        f"VmRSS {mib(result['after_api_settled']['vmrss_kib'])} MiB, {result['after_api_settled']['threads']} threads.",
        f"Stop (SIGTERM): exit {stop['code']} in {stop['seconds']:.2f} s. Restart over the state "
        f"({runs['rows_in_state']:,} runs): {restart['start_seconds']:.2f} s to listen, "
        f"VmRSS {mib(restart['vmrss_kib'])} MiB; stopped with exit {restart['code']}.",
        "",
        f"Latest run of every sync, as the store asks it (SQLite {qp['sqlite']} in Python): "
        f"`{qp['store']['plan']}`, {qp['store']['ms_for_every_sync']} ms for all {sizes['syncs']:,}; "
        f"with `WHERE sync = ?` alone: `{qp['sync_only']['plan']}`, {qp['sync_only']['ms_for_every_sync']} ms.",
        "",
        f"Service stderr: {result['stderr']['lines']} lines ({result['stderr']['error']} error, "
        f"{result['stderr']['warn']} warn, {result['stderr']['panic']} panic"
        f"{'; written with ANSI colour codes although stderr is a file' if result['stderr']['ansi_colours'] else ''})"
        + (":" if result["stderr"]["distinct"] else "."),
    ]
    for d in result["stderr"]["distinct"][:8]:
        lines.append(f"    {d['count']:>5} × {d['line'][:200]}")
    if result["notes"]:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def notes_for(result):
    notes = []
    for s in result["runs"]["slots"]:
        if s["skipped"]:
            notes.append(f"slot {s['slot_utc']}: {s['skipped']} run(s) skipped (the sync was still running or waiting for its turn)")
    if result["runs"]["anomaly_count"]:
        notes.append(f"{result['runs']['anomaly_count']} sync(s) without exactly one row per slot")
    for p in result["batch_process"]["probes"]:
        ph = p["syncs_running_by_phase"] or {}
        going = ph.get("scanning", 0) + ph.get("transferring", 0)
        if ph.get("waiting", 0) and p["metrics_runs_in_progress"] > going + 2:
            notes.append(f"+{p['at_s']} s after a slot, /metrics said {p['metrics_runs_in_progress']} runs in progress "
                         f"while /api/syncs showed {going} going and {ph['waiting']} waiting for their turn: "
                         "`ferry_runs_in_progress` counts the waiting ones too")
            break
    keys = result["api"].get("run_report_keys") or []
    if keys and not any(k in keys for k in ("started", "started_at", "start")):
        notes.append("the API's run reports (/api/runs, last_run of /api/syncs) carry no start or end time, only "
                     "`seconds`: lateness is read from the state database (runs.started_ns)")
    for path, s in result["api"]["summary"].items():
        if s["errors"]:
            notes.append(f"GET {path}: {s['errors']} failed requests")
        if s["client_cpu_cores_median"] >= 0.9:
            notes.append(f"GET {path}: the Python client used {s['client_cpu_cores_median']} cores: it, not the "
                         "service, may set the pace")
    idle = result["idle"]
    if len(idle) > 1 and idle[-1]["vmrss_kib"] > 1.5 * idle[0]["vmrss_kib"]:
        notes.append(f"idle VmRSS grew from {mib(idle[0]['vmrss_kib'])} MiB (fresh) to {mib(idle[-1]['vmrss_kib'])} MiB (after the runs)")
    if result["stderr"]["panic"] or result["stderr"]["error"]:
        notes.append("the service's stderr has errors or panics (see `stderr`)")
    if result["stop"]["code"] != 0 or result["restart"]["code"] != 0:
        notes.append("the service did not exit 0 on SIGTERM")
    return notes


# ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 syncs, 1 slot, 20 s idle windows, 1 x 5 s per endpoint")
    parser.add_argument("--syncs", type=int, help="syncs (default 1,000; --quick 200)")
    parser.add_argument("--slots", type=int, help="minute slots to let pass (default 2; --quick 1)")
    parser.add_argument("--idle", type=int, help="seconds of each idle window (default 60; --quick 20)")
    parser.add_argument("--load", type=int, help="seconds per endpoint and round (default 20; --quick 5)")
    parser.add_argument("--reps", type=int, help="rounds over the endpoints (default 3; --quick 1)")
    parser.add_argument("--clients", type=int, help="concurrent API clients (default 50)")
    parser.add_argument("--max-runs", type=int, help="[service] max_runs (default: the service's own, 16)")
    parser.add_argument("--no-build", action="store_true", help="use target/release/ferry as it is")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (config, trees, state, logs)")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    custom = False
    for key in ("syncs", "slots", "idle", "load", "reps", "clients"):
        value = getattr(args, key)
        if value is not None:
            custom |= value != sizes[key]
            sizes[key] = value
    if not 1 <= sizes["syncs"] <= 9999 or sizes["slots"] < 1:
        parser.error("--syncs must be 1..9999 and --slots at least 1")
    name = "latest-service-quick" if args.quick and not custom else (
        "latest-service-partial" if custom or args.max_runs else "latest-service")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: sys.exit(f"service-bench: stopped by signal {number}"))
    if not args.no_build:
        build()
    load_before = os.getloadavg()
    started = time.time()
    (REPO / "target" / "tmp").mkdir(parents=True, exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="service-bench-", dir=REPO / "target" / "tmp"))
    service = None
    try:
        log(f"{sizes['syncs']:,} syncs in {work}")
        total_bytes = make_trees(work, sizes["syncs"])
        warm = warm_plugin_cache(work)
        log(f"plugin cache warm ({warm:.1f} s for a one-file run)")
        config = work / "ferry.toml"
        far = far_schedule()
        write_config(config, sizes["syncs"], far, args.max_runs)
        service = Service(work, config, "main")
        start = {"seconds": round(service.start_seconds, 3), **service.sample()}
        log(f"listening on {service.address} after {service.start_seconds:.2f} s, "
            f"VmRSS {start['vmrss_kib'] / 1024:.1f} MiB, schedule {far!r} (UTC)")
        idle = [idle_window(service, sizes["idle"], "fresh, before any run")]
        run_info = scheduled_runs(service, config, sizes["syncs"], sizes["slots"], far, args.max_runs)
        time.sleep(5)
        idle.append(idle_window(service, sizes["idle"], f"after {sizes['slots']} slot(s) of runs"))
        api = api_phase(service, sizes)
        after_api = service.sample()
        log("15 s for the service to settle after the load")
        time.sleep(15)
        settled = service.sample()
        code, seconds = service.stop()
        stop = {"code": code, "seconds": round(seconds, 3)}
        log(f"stopped: exit {code} in {seconds:.2f} s")
        runs = analyse_runs(work, sizes["syncs"], run_info)
        plan = query_plan(work)
        stderr = stderr_summary(service.stderr_path)
        service = Service(work, config, "restart")
        restart_sample = service.sample()
        restart_code, restart_stop = service.stop()
        restart = {"start_seconds": round(service.start_seconds, 3), "vmrss_kib": restart_sample["vmrss_kib"],
                   "code": restart_code, "stop_seconds": round(restart_stop, 3),
                   "stderr": stderr_summary(service.stderr_path)}
        log(f"restart: listening after {service.start_seconds:.2f} s, exit {restart_code}")
        service = None
    finally:
        if service is not None:
            service.kill()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    max_runs = args.max_runs or 16
    batch = {k: run_info[k] for k in ("cpu_seconds", "wall_seconds", "peak_threads", "peak_vmrss_kib", "vmhwm_kib",
                                      "probes", "timed_out", "far_reloaded_after_last_slot_s")}
    result = {
        "meta": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "minutes": round((time.time() - started) / 60, 1),
            "versions": {
                "ferry": first_line([str(FERRY), "--version"]),
                "git": first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
                "binary_built": datetime.datetime.fromtimestamp(FERRY.stat().st_mtime).astimezone()
                .isoformat(timespec="seconds"),
            },
            "command": "bench/service.py " + " ".join(sys.argv[1:]),
        },
        "sizes": sizes,
        "max_runs": max_runs,
        "files_per_sync": FILES_PER_SYNC,
        "bytes_per_sync_avg": total_bytes / sizes["syncs"],
        "plugin_warmup_seconds": round(warm, 2),
        "far_schedule_utc": far,
        "start": start,
        "idle": idle,
        "runs": runs,
        "batch_process": batch,
        "progress": run_info["progress"],
        "api": api,
        "after_api": after_api,
        "after_api_settled": settled,
        "stop": stop,
        "restart": restart,
        "query_plan": plan,
        "stderr": stderr,
    }
    # The service's RSS at the end of each slot's minute (or when the last batch ended).
    for k, slot in enumerate(runs["slots"]):
        before_next = [p for p in run_info["progress"] if p["t"] < 60 * (k + 1) - 1]
        slot["vmrss_kib_end_of_minute"] = before_next[-1]["vmrss_kib"] if before_next else None
    result["notes"] = notes_for(result)
    text = markdown(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(text)
    log(f"wrote bench/results/{name}.md and .json in {result['meta']['minutes']} min")


if __name__ == "__main__":
    main()
