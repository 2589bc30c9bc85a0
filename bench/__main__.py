"""`make bench`: ingress throughput and latency, delivery isolation and throughput, memory.

Starts the service as `make run` does (gunicorn sync web workers and the delivery worker, SQLite;
DATABASE_URL / REDIS_URL are honoured) on a fresh database, with receivers in processes of their own
on 127.0.0.1. With `--compare REF` the same scenarios also run against commit REF, checked out beside
this one, in the same run and on the same machine: figures only count as ratios between builds, as
this machine's speed drifts. With `--only ingress --legacy PATH` the legacy Flask app, from a checkout
of it at PATH, is measured as a third build (bench/builds.py). Everything is bounded in count and time.

Scenarios:
- ingress: requests/s and p50/p95/p99 at 8 and 32 concurrent clients, one connection per request as
  the Apps Script does, in rounds interleaved across levels and builds (the median round is reported);
- end-to-end latency, push to receiver, on an idle service;
- isolation: 100 e-mails in a burst to two endpoints, one answering after 1 s, or a black hole with
  a 10 s timeout; when the healthy endpoint's deliveries arrive (p50/p99 from the burst's start);
- drain: how fast a backlog drains to a receiver answering in 200 ms (the endpoint's max_in_flight
  at 32), and to an instant one;
- memory: peak RSS of the web processes and of the worker.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from bench.builds import Build, baseline_build, legacy_build, this_build
from bench.loadgen import LoadResult, load_run, percentile
from tests.service import ROOT, TOKEN, LiveService, free_port

WARM_UP_PUSHES = 1000
ROUND_KEYS = ("requests_per_second", "p50_ms", "p95_ms", "p99_ms")
BODY_PADDING = "<p>" + "Bonjour, voici le détail de la mission de la semaine. " * 40 + "</p>"


def push_body(prefix: str):
    def make(index: int) -> dict:
        return {
            "sender": "Technique <technique@media-solution.fr>",
            # Unique per run too: the legacy app's e-mail id is subject|sender|date, it ignores message_id.
            "subject": f"Média Solution - Missions Recadrage - Lot {index} - {prefix}",
            "date": "2026-04-10T09:54:38.000Z",
            "message_id": f"{prefix}-{index}",
            "body": f'<div dir="ltr"><p>À faire pour 14h30</p>{BODY_PADDING}'
            f'<a href="https://www.dropbox.com/scl/fo/{prefix}{index}/f?rlkey=k&amp;dl=0">Fichiers</a></div>',
        }

    return make


class ReceiverProcess:
    """bench.receiver in a process of its own; `arrivals` maps each e-mail id to its first arrival."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.arrivals: dict[str, float] = {}
        self.expected = 0  # deliveries of the pushes accepted so far
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver", str(self.port), *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.5)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _read(self):
        for line in self.process.stdout:
            at, _, email_id = line.strip().partition(" ")
            with self._lock:
                self.arrivals.setdefault(email_id, float(at))

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def wait_count(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.01)
        return False

    def wait_all_delivered(self, timeout: float = 300) -> bool:
        return self.wait_count(self.expected, timeout)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def peak_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def ms(value: float) -> float:
    return round(value * 1000, 2)


def configure(live: LiveService, *, url: str, timeout: int = 30, lane: dict | None = None, also: dict | None = None):
    """Point the default endpoint at `url`; with `also`, a rule sends every e-mail to a second endpoint too.

    Lane fields a build does not have are left out, so the same call configures every build."""
    also_code = ""
    if also:
        also_code = (
            f"o = E(name='other', url={also['url']!r}, timeout_seconds={also.get('timeout', 30)});"
            f"[setattr(o, k, v) for k, v in {also.get('lane', {})!r}.items() if hasattr(o, k)]; o.save();"
            "r = RoutingRule.objects.create(name='every e-mail', endpoint=o);"
            "RoutingCondition.objects.create(rule=r, field='subject', operator='contains', value='Lot')"
        )
    live.shell(
        "from webhooks.models import WebhookEndpoint as E; from routing.models import RoutingRule, RoutingCondition;"
        f"d = E.objects.get(is_default=True); d.url = {url!r}; d.timeout_seconds = {timeout};"
        f"[setattr(d, k, v) for k, v in {lane or {}!r}.items() if hasattr(d, k)]; d.save();" + also_code
        + ("\nfrom ingress.selectors import ingress_config_invalidate; ingress_config_invalidate()"
           if not (live.root / "configuration").exists() else "")
    )


def ingress_phase(live: LiveService, concurrency: int, total: int, max_seconds: float) -> dict:
    result: LoadResult = load_run(
        host="127.0.0.1", port=live.port, path="/api/ingress/gmail", token=TOKEN,
        make_body=push_body(f"c{concurrency}-{uuid.uuid4().hex[:6]}"),
        concurrency=concurrency, total=total, max_seconds=max_seconds,
    )
    return {
        "concurrency": concurrency,
        "requests": result.count,
        "non_2xx": result.count - len(result.latencies),
        "connection_errors": result.errors,
        "requests_per_second": round(result.count / result.elapsed, 1),
        "p50_ms": ms(result.percentile(50)),
        "p95_ms": ms(result.percentile(95)),
        "p99_ms": ms(result.percentile(99)),
    }


def median_round(phases: list[dict]) -> dict:
    ordered = sorted(phases, key=lambda phase: phase["requests_per_second"])
    return ordered[(len(ordered) - 1) // 2] | {"rounds": [{key: p[key] for key in ROUND_KEYS} for p in phases]}


# --- ingress: every build up at once, rounds interleaved across levels and builds -------------------------
def ingress_scenario(builds: list[Build], args) -> dict:
    setups = []
    try:
        for build in builds:
            receiver = ReceiverProcess()
            live = build.service(web_workers=args.web_workers, WEBHOOK_URL=receiver.url())
            setups.append((build, live, receiver))
            live.start()
        for _build, live, receiver in setups:
            # Warm-up to steady state: connections, caches, the WAL file at its working size.
            receiver.expected += ingress_phase(live, 8, WARM_UP_PUSHES, max_seconds=60)["requests"]
        measured = {(build.name, level): [] for build in builds for level in (8, 32)}
        for _ in range(args.rounds):
            for level in (8, 32):
                for build, live, receiver in setups:
                    # Every build's earlier pushes delivered: no build is measured while another drains.
                    for _, _, other in setups:
                        other.wait_all_delivered()
                    phase = ingress_phase(live, level, args.requests, max_seconds=60)
                    receiver.expected += phase["requests"] - phase["non_2xx"]
                    measured[(build.name, level)].append(phase)
        report = {}
        for build, live, receiver in setups:
            receiver.wait_all_delivered()
            report[build.name] = {
                "ingress": [median_round(measured[(build.name, level)]) for level in (8, 32)],
                "end_to_end_idle": e2e_phase(live, receiver, args.e2e),
                "peak_rss_web_mb": peak_rss_mb([p for p in live.children() if _is_web(p)]),
            }
        return report
    finally:
        for _, live, receiver in setups:
            live.stop()
            receiver.stop()


def _is_web(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"gunicorn" in cmdline.read()
    except OSError:
        return False


def e2e_phase(live: LiveService, receiver: ReceiverProcess, count: int) -> dict:
    latencies = []
    make = push_body(f"e2e-{uuid.uuid4().hex[:6]}")
    session = requests.Session()
    for index in range(count):
        sent = time.time()
        email_id = session.post(
            live.url("/api/ingress/gmail"), json=make(index), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).json()["email_id"]
        deadline = time.monotonic() + 10
        while email_id not in receiver.arrivals and time.monotonic() < deadline:
            time.sleep(0.001)
        if email_id in receiver.arrivals:
            latencies.append(receiver.arrivals[email_id] - sent)
        time.sleep(0.1)  # idle between pushes: the worker is back to polling
    receiver.expected += count
    return {"pushes": count, "delivered": len(latencies), "p50_ms": ms(statistics.median(latencies)),
            "p95_ms": ms(percentile(latencies, 95))}


# --- isolation: a healthy endpoint beside a slow one, or a black hole -----------------------------------
def isolation_scenario(
    build: Build, *, other_args: tuple[str, ...], other_timeout: int, emails: int, cap: float
) -> dict:
    healthy, other = ReceiverProcess(), ReceiverProcess(*other_args)
    live = build.service(WEBHOOK_URL=healthy.url())
    try:
        live.start()
        configure(live, url=healthy.url(), also={"url": other.url("/other"), "timeout": other_timeout})
        started = time.time()
        burst = load_run(
            host="127.0.0.1", port=live.port, path="/api/ingress/gmail", token=TOKEN,
            make_body=push_body(f"iso-{uuid.uuid4().hex[:6]}"), concurrency=16, total=emails, max_seconds=60,
        )
        healthy.wait_count(emails, timeout=cap)
        arrivals = [at - started for at in healthy.arrivals.values()]
        delivered = len(arrivals)
        return {
            "emails": emails, "accepted": len(burst.latencies), "healthy_delivered": delivered, "cap_seconds": cap,
            "healthy_p50_s": round(percentile(arrivals, 50), 3) if arrivals else None,
            "healthy_p99_s": round(percentile(arrivals, 99), 3) if delivered == emails else None,
        }
    finally:
        live.stop()
        healthy.stop()
        other.stop()


# --- drain: a backlog sent by one worker ---------------------------------------------------------------
def drain_scenario(build: Build, *, receiver_args: tuple[str, ...], backlog: int, cap: float, lane: dict) -> dict:
    receiver = ReceiverProcess(*receiver_args)
    live = build.service(workers=0, WEBHOOK_URL=receiver.url())
    worker = None
    try:
        live.start()
        configure(live, url=receiver.url(), lane=lane)
        pushed = ingress_phase(live, 16, backlog, max_seconds=180)
        accepted = pushed["requests"] - pushed["non_2xx"]
        started = time.monotonic()
        worker = subprocess.Popen(
            build.worker_command(f"bench-{os.getpid()}"), cwd=build.root, env=live.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        drained = receiver.wait_count(accepted, timeout=cap)
        elapsed = time.monotonic() - started
        delivered = receiver.count()
        return {
            "backlog": accepted, "delivered": delivered, "drained": drained, "seconds": round(elapsed, 2),
            "deliveries_per_second": round(delivered / elapsed, 1), "worker_peak_rss_mb": peak_rss_mb([worker.pid]),
        }
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        live.stop()
        receiver.stop()


def delivery_scenarios(args) -> dict:
    """Each delivery scenario as a function of the build."""
    return {
        "isolation_slow": lambda build: isolation_scenario(
            build, other_args=("--delay", "1"), other_timeout=30, emails=100, cap=args.isolation_cap
        ),
        "isolation_black_hole": lambda build: isolation_scenario(
            build, other_args=("--black-hole",), other_timeout=10, emails=100, cap=args.isolation_cap
        ),
        "drain_slow_receiver": lambda build: drain_scenario(
            build, receiver_args=("--delay", "0.2"), backlog=args.slow_backlog, cap=args.drain_cap,
            lane={"max_in_flight": 32},
        ),
        "drain_instant_receiver": lambda build: drain_scenario(
            build, receiver_args=(), backlog=args.backlog, cap=args.drain_cap, lane={},
        ),
    }


# --- report --------------------------------------------------------------------------------------------
def ratios(report: dict, this: str, baseline: str) -> dict:
    a, b = report["builds"][this], report["builds"][baseline]
    ratio = {}
    for mine, theirs in zip(a.get("ingress", []), b.get("ingress", []), strict=True):
        level = mine["concurrency"]
        ratio[f"ingress_c{level}_rps"] = round(mine["requests_per_second"] / theirs["requests_per_second"], 3)
        ratio[f"ingress_c{level}_p99"] = round(mine["p99_ms"] / theirs["p99_ms"], 3)
    for name in ("drain_slow_receiver", "drain_instant_receiver"):
        if name in a:
            rate = a[name]["deliveries_per_second"] / max(0.01, b[name]["deliveries_per_second"])
            ratio[f"{name}_rate"] = round(rate, 2)
    return ratio


ROWS = (
    ("ingress c=8 req/s (median)", "ingress", lambda b: b["ingress"][0]["requests_per_second"]),
    ("ingress c=8 p99 ms", "ingress", lambda b: b["ingress"][0]["p99_ms"]),
    ("ingress c=32 req/s (median)", "ingress", lambda b: b["ingress"][1]["requests_per_second"]),
    ("ingress c=32 p99 ms", "ingress", lambda b: b["ingress"][1]["p99_ms"]),
    ("end-to-end idle p50 / p95 ms", "end_to_end_idle",
     lambda b: f"{b['end_to_end_idle']['p50_ms']} / {b['end_to_end_idle']['p95_ms']}"),
    ("healthy p50/p99 s, beside 1 s", "isolation_slow", lambda b: _isolation(b["isolation_slow"])),
    ("healthy p50/p99 s, black hole", "isolation_black_hole", lambda b: _isolation(b["isolation_black_hole"])),
    ("drain to a 200 ms receiver /s", "drain_slow_receiver",
     lambda b: b["drain_slow_receiver"]["deliveries_per_second"]),
    ("drain to an instant one /s", "drain_instant_receiver",
     lambda b: b["drain_instant_receiver"]["deliveries_per_second"]),
    ("worker peak RSS MB (200 ms)", "drain_slow_receiver", lambda b: b["drain_slow_receiver"]["worker_peak_rss_mb"]),
    ("web peak RSS MB", "peak_rss_web_mb", lambda b: b["peak_rss_web_mb"]),
)


def table(report: dict) -> str:
    builds = report["builds"]
    lines = [f"{'':<32}" + "".join(f"{name:>24}" for name in builds)]
    for label, key, value in ROWS:
        if all(key in figures for figures in builds.values()):
            lines.append(f"{label:<32}" + "".join(f"{value(figures)!s:>24}" for figures in builds.values()))
    for other, ratios_key in (("baseline", "ratios"), ("legacy", "ratios_legacy")):
        ratio = report.get(ratios_key, {})
        lines += [f"{'ratio this/' + other:<20}{key:<25}{value:>10}" for key, value in ratio.items()]
    return "\n".join(lines)


def _isolation(result: dict) -> str:
    if result["healthy_p99_s"] is None:
        return f"{result['healthy_delivered']}/{result['emails']} in {result['cap_seconds']:g} s"
    return f"{result['healthy_p50_s']} / {result['healthy_p99_s']}"


def servers_start() -> None:
    """A throw-away PostgreSQL and Redis for this run (tests/servers.py), stopped when it ends."""
    import atexit
    import tempfile

    from tests import servers

    directory = Path(tempfile.mkdtemp(prefix="signal-bench-servers-"))
    atexit.register(servers.servers_stop)
    os.environ["DATABASE_URL"] = servers.postgresql_start(directory / "postgresql")
    os.environ["REDIS_URL"] = servers.redis_start(directory / "redis")


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", metavar="REF", help="also measure this commit, in the same run (A/B)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per ingress round")
    parser.add_argument("--rounds", type=int, default=3, help="ingress rounds per level and build")
    parser.add_argument("--backlog", type=int, default=5000, help="deliveries drained to the instant receiver")
    parser.add_argument("--slow-backlog", type=int, default=2000, help="deliveries drained to the 200 ms receiver")
    parser.add_argument("--drain-cap", type=float, default=60, help="seconds a drain may take before it is cut")
    parser.add_argument("--isolation-cap", type=float, default=60, help="seconds to wait for the healthy endpoint")
    parser.add_argument("--e2e", type=int, default=100, help="idle end-to-end pushes")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument(
        "--only", choices=("ingress", "delivery"), help="run only the ingress, or only the delivery, scenarios"
    )
    parser.add_argument(
        "--stack", choices=("env", "servers"), default="env",
        help="env: DATABASE_URL/REDIS_URL as set (default: SQLite); servers: a throw-away PostgreSQL + Redis",
    )
    parser.add_argument(
        "--legacy", metavar="PATH", help="with --only ingress, also measure the legacy Flask app from this checkout"
    )
    parser.add_argument("--output", default=str(ROOT / "var" / "bench.json"))
    args = parser.parse_args()
    if args.legacy and args.only != "ingress":
        parser.error("--legacy needs --only ingress: the legacy app has no delivery worker to measure")
    if args.stack == "servers":
        servers_start()

    builds = [this_build()] + ([baseline_build(args.compare)] if args.compare else [])
    builds += [legacy_build(args.legacy)] if args.legacy else []
    report: dict = {
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "cache": "redis" if os.environ.get("REDIS_URL") else "locmem",
        "web_workers": args.web_workers,
        "cpus": os.cpu_count(),
        "builds": {build.name: {} for build in builds},
    }
    if args.only != "delivery":
        progress("ingress and end-to-end latency, every build at once")
        for name, figures in ingress_scenario(builds, args).items():
            report["builds"][name].update(figures)
    if args.only != "ingress":
        # Scenario by scenario, every build in turn: a slow spell of the machine hits the builds alike.
        for name, scenario in delivery_scenarios(args).items():
            for build in builds:
                progress(f"{name}: {build.name}")
                report["builds"][build.name][name] = scenario(build)
    if args.compare:
        report["ratios"] = ratios(report, builds[0].name, builds[1].name)
    if args.legacy:
        report["ratios_legacy"] = ratios(report, builds[0].name, builds[-1].name)

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    print(table(report))


if __name__ == "__main__":
    main()
