"""HTTP load on gunicorn with the production settings, on PostgreSQL + Redis with ``bench.dataset``.

Seeds the dataset (5,000 people, 1,000 mentors, ~25,000 meetings, calendars in the Redis busy
cache) into ``--database-url`` unless ``--reuse``, starts ``gunicorn -c gunicorn.conf.py wsgi:app``
(the documented settings: gthread, 2 x cores workers, 4 threads, --preload + gc.freeze, multiprocess
metrics, JSON logs to a file, rate limits on behind one trusted proxy: each user has an
``X-Forwarded-For`` address of their own) on a free loopback port, signs ``--users`` mentees and one
admin in, then runs three phases in one run, each ``--seconds`` long:

1. the floor: every user calls ``GET /api/v1/health`` back to back;
2. the endpoint mix, no think time: directory (``/people``), ``/mentors/free``, ``/matches``,
   one mentor's availability, and (admin) the health report;
3. the same mix with ``--think`` seconds (uniform) between a user's requests.

Prints throughput, p50/p95/p99 per endpoint and the mix's throughput as a ratio of the floor, the
client's own CPU per request, and the web workers' peak RSS (sampled through the run, recycled
workers included). The load is made by ``--client-processes`` processes (default 2), each running its
share of the users as threads with ``requests`` (one keep-alive session per user), not locust: locust
is not installed here and brings gevent. Several processes, so that the client is not one GIL-bound
process that caps the floor (which would flatter the ratio); what matters is that the floor and the
mix are driven by the same client in the same run, so their ratio holds on a busy machine. The client
shares the machine's cores with the server: absolute figures are a lower bound, and the client's CPU
per request is printed so its share is known.

    python -m bench.load [--database-url URL] [--redis-url URL] [--reuse] [--users 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
SECRET = "bench-load"
MIX: list[tuple[str, int]] = [  # (endpoint, weight)
    ("directory", 3), ("free", 2), ("matches", 2), ("availability", 3), ("health report", 1)]


@dataclass
class Results:
    took: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    cpu_seconds: float = 0.0  # the client's own CPU time (every client process)

    def add(self, name: str, ms: float, ok: bool) -> None:
        with self.lock:
            self.took[name].append(ms)
            if not ok:
                self.errors[name] += 1

    def merge(self, took: dict[str, list[float]], errors: dict[str, int], cpu: float) -> None:
        for name, values in took.items():
            self.took[name] += values
        for name, n in errors.items():
            self.errors[name] += n
        self.cpu_seconds += cpu


def _url_for(name: str, rnd: random.Random) -> str:
    if name == "directory":
        return f"/api/v1/people?limit=20&offset={rnd.randrange(0, 900)}"
    if name == "free":
        return "/api/v1/mentors/free?limit=20"
    if name == "matches":
        return "/api/v1/matches?limit=10"
    if name == "availability":
        return f"/api/v1/mentors/{rnd.randint(1, 1000)}/availability"
    if name == "health report":
        return "/api/v1/reports/health"
    return "/api/v1/health"


def _user(base: str, cookies: dict[str, str], admin_cookies: dict[str, str], pick: Callable[[], str],
          until: float, think: tuple[float, float] | None, results: Results, seed: int) -> None:
    rnd = random.Random(seed)
    with requests.Session() as mine, requests.Session() as admins:  # one keep-alive connection each
        mine.cookies.update(cookies)
        admins.cookies.update(admin_cookies)
        mine.headers["X-Forwarded-For"] = admins.headers["X-Forwarded-For"] = address(seed)
        while time.monotonic() < until:
            name = pick()
            http = admins if name == "health report" else mine
            began = time.perf_counter()
            try:
                ok = http.get(base + _url_for(name, rnd), timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            results.add(name, (time.perf_counter() - began) * 1000, ok)
            if think is not None:
                time.sleep(rnd.uniform(*think))


def address(n: int) -> str:
    """User ``n``'s client address, as the proxy in front of the app reports it."""
    return f"10.0.{n // 250}.{n % 250 + 1}"


def _picker(rnd: random.Random, population: list[str], weights: list[int]) -> Callable[[], str]:
    def pick() -> str:
        return rnd.choices(population, weights)[0]
    return pick


def _client(base: str, users: list[tuple[int, dict[str, str]]], admin: dict[str, str], seconds: float,
            names: list[tuple[str, int]], think: tuple[float, float] | None, out: Any) -> None:
    """One client process: its users as threads; sends back the timings and its CPU time."""
    results = Results()
    population = [n for n, _ in names]
    weights = [w for _, w in names]
    until = time.monotonic() + seconds
    cpu = time.process_time()
    threads = []
    for i, cookies in users:
        pick = _picker(random.Random(1000 + i), population, weights)
        threads.append(threading.Thread(
            target=_user, args=(base, cookies, admin, pick, until, think, results, i), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send((dict(results.took), dict(results.errors), time.process_time() - cpu))
    out.close()


def phase(base: str, users: list[dict[str, str]], admin: dict[str, str], seconds: float,
          names: list[tuple[str, int]], think: tuple[float, float] | None,
          processes: int = 2) -> tuple[Results, float]:
    """``users`` split over ``processes`` client processes (forked), all starting together."""
    results = Results()
    numbered = list(enumerate(users))
    context = multiprocessing.get_context("fork")
    running = []
    began = time.monotonic()
    for k in range(max(1, min(processes, len(users)))):
        mine, theirs = context.Pipe(duplex=False)
        proc = context.Process(target=_client, args=(base, numbered[k::processes], admin, seconds, names,
                                                     think, theirs), daemon=True)
        proc.start()
        theirs.close()
        running.append((proc, mine))
    for proc, mine in running:
        results.merge(*mine.recv())
        proc.join()
    return results, time.monotonic() - began


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(title: str, results: Results, seconds: float, floor: float | None) -> float:
    total = sum(len(v) for v in results.took.values())
    rate = total / seconds
    ratio = f"  = {rate / floor:.2f}x the floor" if floor else ""
    print(f"\n{title}: {total} requests in {seconds:.0f} s, {rate:.1f} req/s{ratio}")
    print(f"  {'endpoint':<15} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    everything: list[float] = []
    for name, took in sorted(results.took.items()):
        everything += took
        print(f"  {name:<15} {len(took):>6} {len(took) / seconds:>7.1f} {statistics.median(took):>8.1f} "
              f"{_pct(took, 0.95):>8.1f} {_pct(took, 0.99):>8.1f} {results.errors[name]:>6}")
    if len(results.took) > 1:
        print(f"  {'all':<15} {len(everything):>6} {rate:>7.1f} {statistics.median(everything):>8.1f} "
              f"{_pct(everything, 0.95):>8.1f} {_pct(everything, 0.99):>8.1f} "
              f"{sum(results.errors.values()):>6}")
    if total:
        print(f"  client CPU: {results.cpu_seconds * 1000 / total:.2f} ms per request "
              f"({results.cpu_seconds / seconds:.2f} of the machine's cores)")
    return rate


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_s(pid: int) -> float | None:
    """utime + stime of a process, in seconds (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerMeter:
    """Samples, twice a second, each web worker's peak RSS (VmHWM) and CPU time, and the CPU time of
    the PostgreSQL backends serving ``database``: workers recycled by ``max_requests`` and pooled
    connections opened mid-phase count too. With the Redis server's own CPU (``INFO cpu``), a phase's
    CPU per request is split between the web workers, PostgreSQL and Redis."""

    def __init__(self, master: int, database_url: str, redis_url: str) -> None:
        import psycopg
        from redis import Redis

        self.master = master
        self.peaks: dict[int, int] = {}
        self.cpu: dict[str, dict[int, float]] = {"web": {}, "postgres": {}}
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        self._db_name = dsn.rsplit("/", 1)[1].split("?")[0]
        self._pg = psycopg.connect(dsn, autocommit=True)
        self._redis = Redis.from_url(redis_url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        backends = [pid for (pid,) in self._pg.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self._db_name,))]
        with self._lock:
            for group, pids in (("web", _children(self.master)), ("postgres", backends)):
                for pid in pids:
                    used = _cpu_s(pid)
                    if used is not None:
                        self.cpu[group][pid] = used
                    if group == "web":
                        kb = _rss_kb(pid)
                        if kb:
                            self.peaks[pid] = max(kb, self.peaks.get(pid, 0))

    def snapshot(self) -> dict[str, Any]:
        self.sample()
        info = self._redis.info("cpu")
        with self._lock:
            return {"web": dict(self.cpu["web"]), "postgres": dict(self.cpu["postgres"]),
                    "redis": float(info["used_cpu_sys"]) + float(info["used_cpu_user"])}

    @staticmethod
    def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        """CPU seconds per group between two snapshots (a process new since ``before`` from 0)."""
        out = {group: sum(used - before[group].get(pid, 0.0) for pid, used in after[group].items())
               for group in ("web", "postgres")}
        out["redis"] = after["redis"] - before["redis"]
        return out

    def stop(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join()
        self.sample()
        self._pg.close()
        return self.peaks


def measured(meter: ServerMeter, run: Callable[[], tuple[Results, float]]) -> tuple[Results, float, str]:
    """Runs a phase; says how much CPU the server side spent per request in it."""
    before = meter.snapshot()
    results, seconds = run()
    spent = ServerMeter.spent(before, meter.snapshot())
    total = max(1, sum(len(v) for v in results.took.values()))
    line = ("  server CPU per request: " + ", ".join(f"{group} {sec * 1000 / total:.2f} ms"
                                                     for group, sec in spent.items())
            + f" (web workers used {spent['web'] / seconds:.2f} cores)")
    return results, seconds, line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--reuse", action="store_true", help="the database and the cache are seeded already")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--think", default="1.5-4.5", help="think time range in seconds, e.g. 1.5-4.5")
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py (2 x cores)")
    parser.add_argument("--threads", type=int, default=None, help="default: gunicorn.conf.py (4)")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="client processes sharing the users (default 2)")
    args = parser.parse_args(argv)
    lo, hi = (float(x) for x in args.think.split("-"))

    from bench.dataset import CALENDAR_TTL_SECONDS, PASSWORD, mentee_emails, seed

    if not args.reuse:
        from redis import Redis

        made = seed(args.database_url, Redis.from_url(args.redis_url))
        print(f"seeded {made.people} people, {made.mentors} mentors, {made.meetings} meetings in "
              f"{made.seconds:.0f} s")

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    (work / "metrics").mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "RATELIMIT_STORAGE_URI": args.redis_url,
        "FLASK_SECRET_KEY": SECRET,
        "FLASHMENTOR_BUSY_CACHE_TTL": str(CALENDAR_TTL_SECONDS),
        "FLASHMENTOR_JOBS": "0",
        # Rate limits on, as in production, behind one proxy: each user comes from an address of their
        # own (X-Forwarded-For), so 50 sign-ins are not one client's 50 tries.
        "FLASHMENTOR_TRUSTED_PROXIES": "1",
        "FLASHMENTOR_CALENDAR_SYNC_SECONDS": "0",
        "FLASHMENTOR_CALENDAR_PUSH_SECONDS": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
    }
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"fd://{listener.fileno()}", "wsgi:app"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    log = (work / "gunicorn.log").open("wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              pass_fds=(listener.fileno(),))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/api/v1/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print((work / "gunicorn.log").read_text()[-3000:], file=sys.stderr)
                return 1
            time.sleep(0.2)

        def sign_in(email: str, n: int) -> dict[str, str]:
            reply = requests.post(base + "/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                                  headers={"X-Forwarded-For": address(n)},
                                  timeout=60)
            reply.raise_for_status()
            return reply.cookies.get_dict()

        users = [sign_in(e, i) for i, e in enumerate(mentee_emails(args.users))]
        admin = sign_in("person4999@bench.example", args.users)
        clients = args.client_processes
        meter = ServerMeter(server.pid, args.database_url, args.redis_url)
        phase(base, users[:8], admin, 5, MIX, None, clients)  # first requests of each worker
        workers = _children(server.pid)
        threads = args.threads or "gunicorn.conf.py's"
        print(f"gunicorn: {len(workers)} workers (gthread, {threads} threads), {clients} client processes, "
              f"log {work / 'gunicorn.log'}")
        floor_results, floor_s, cpu = measured(meter, lambda: phase(
            base, users, admin, args.seconds, [("health", 1)], None, clients))
        floor = report(f"floor: GET /api/v1/health, {args.users} users, no think time", floor_results,
                       floor_s, None)
        print(cpu)
        mix, mix_s, cpu = measured(meter, lambda: phase(base, users, admin, args.seconds, MIX, None, clients))
        report(f"mix, {args.users} users, no think time", mix, mix_s, floor)
        print(cpu)
        thinking, think_s, cpu = measured(meter, lambda: phase(
            base, users, admin, max(args.seconds, 60), MIX, (lo, hi), clients))
        report(f"mix, {args.users} users, think time {lo}-{hi} s", thinking, think_s, None)
        print(cpu)
        peaks = list(meter.stop().values())
        if peaks:
            print(f"\npeak RSS per web worker: {min(peaks) / 1024:.0f}-{max(peaks) / 1024:.0f} MB over "
                  f"{len(peaks)} worker processes (recycled ones included; master "
                  f"{_rss_kb(server.pid) / 1024:.0f} MB)")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
