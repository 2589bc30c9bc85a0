"""`make bench-scale`: how every admin page and API answer costs as history grows, and whether ingress does.

For each database (SQLite, PostgreSQL) and each size (1,000 / 100,000 / 1,000,000 e-mails by default)
it migrates a throw-away database with `manage.py migrate`, seeds it with realistic history
(bench/seed.py), and starts the real service on it (`manage.py serve`, debug off, one delivery
worker, a superuser and an API token made for the run). The services of every size run side by
side and the requests are interleaved across sizes, round by round, so a slow spell of the machine
hits every size alike. Each figure is the median of `--rounds` requests; a request answered other
than 200 is reported as an error, not timed. Ingress is measured the same way: a fixed burst of
pushes per round and size (requests/s, median round).

PostgreSQL is a throw-away server (pytest-postgresql's executor, as the test suite starts it), or
the one DATABASE_URL names, where a database per size is created and dropped. The table is
printed and written to var/bench/scale-<timestamp>.json and .md. Every subprocess and request is
bounded in time; the services are stopped by PID at the end, on Ctrl-C and on SIGTERM too.

Add a page to measure by adding one line to PROBES.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from bench.__main__ import push_body
from bench.loadgen import load_run
from tests.service import ROOT, TOKEN, LiveService, free_port, static_collected

ADMIN_USER = "bench-admin"
ADMIN_PASSWORD = "bench-" + uuid.uuid4().hex


@dataclass(frozen=True)
class Probe:
    name: str  # for --only
    label: str  # the table's row
    auth: str  # "admin": the superuser's session; "api": the superuser's token
    path: str  # {email_id}, {email_pk} and {delivery_pk} name a seeded e-mail with a failed delivery


PROBES = (
    Probe("admin-emails", "admin: inbound e-mail changelist", "admin", "/admin/ingress/inboundemail/"),
    Probe("admin-email-search", "admin: e-mail search ?q=<email_id>", "admin",
          "/admin/ingress/inboundemail/?q={email_id}"),
    Probe("admin-email-failed", 'admin: e-mail filter "some deliveries failed"', "admin",
          "/admin/ingress/inboundemail/?deliveries=failed"),
    Probe("admin-email-change", "admin: e-mail change page", "admin", "/admin/ingress/inboundemail/{email_pk}/change/"),
    Probe("admin-deliveries", "admin: delivery changelist", "admin", "/admin/webhooks/webhookdelivery/"),
    Probe("admin-delivery-search", "admin: delivery search ?q=<email_id>", "admin",
          "/admin/webhooks/webhookdelivery/?q={email_id}"),
    Probe("admin-delivery-failed", "admin: delivery filter status=failed", "admin",
          "/admin/webhooks/webhookdelivery/?status__exact=failed"),
    Probe("admin-delivery-change", "admin: delivery change page", "admin",
          "/admin/webhooks/webhookdelivery/{delivery_pk}/change/"),
    Probe("admin-overview", "admin: overview page", "admin", "/admin/overview/"),
    Probe("api-deliveries-failed", "API: /api/webhooks/deliveries/?status=failed", "api",
          "/api/webhooks/deliveries/?status=failed"),
    Probe("api-emails", "API: /api/emails/", "api", "/api/emails/"),
    Probe("api-email-detail", "API: /api/emails/<email_id>/", "api", "/api/emails/{email_id}/"),
    Probe("api-deliveries", "API: /api/webhooks/deliveries/ page 1", "api", "/api/webhooks/deliveries/"),
    Probe("api-delivery-detail", "API: /api/webhooks/deliveries/<id>/", "api",
          "/api/webhooks/deliveries/{delivery_pk}/"),
    Probe("api-webhook-logs", "API: /api/webhook_logs", "api", "/api/webhook_logs"),
)
INGRESS = "ingress"  # the burst of pushes, also chosen with --only
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Target:
    """One seeded database of one size, and the service running on it."""

    def __init__(self, database: str, size: int, url: str, receiver_url: str, args):
        self.database, self.size = database, size
        self.live = LiveService(
            ("--delivery-workers", "1", "--web-workers", str(args.web_workers)),
            DATABASE_URL=url, WEBHOOK_URL=receiver_url, LOG_LEVEL="WARNING", DJANGO_SECURE_COOKIES="false",
            DJANGO_SUPERUSER_USERNAME=ADMIN_USER, DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        )
        self.timeout = args.timeout
        self.seeded: dict = {}
        self.sample: dict = {}
        self.token = ""
        self.session = requests.Session()

    @property
    def column(self) -> str:
        return f"{self.size:,} e-mails, {DATABASE_NAMES[self.database]}"

    def seed(self, seed_timeout: float) -> None:
        """Migrate with the real migrations, seed, and make the run's superuser and token."""
        self.live.manage("migrate", "--noinput", "--verbosity", "0")
        self.live.manage("bootstrap")
        started = time.monotonic()
        done = subprocess.run(
            [self.live.python, "manage.py", "shell", "--no-imports", "-c",
             f"from bench.seed import main_json; print(main_json({self.size}))"],
            cwd=self.live.root, env=self.live.env, stdout=subprocess.PIPE, text=True, timeout=seed_timeout, check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.seeded, self.sample = result["seeded"], result["sample"]
        self.seeded["wall_seconds"] = round(time.monotonic() - started, 1)
        self.token = self.live.shell(
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
            f"print(Token.objects.get_or_create(user=get_user_model().objects.get(username={ADMIN_USER!r}))[0].key)"
        ).strip()

    def start(self) -> None:
        self.live.env["DJANGO_STATIC_ROOT"] = str(static_collected(self.live.env))
        self.live.start_processes()
        self.session.get(self.live.url("/admin/login/"), timeout=self.timeout)
        answer = self.session.post(
            self.live.url("/admin/login/"), allow_redirects=False, timeout=self.timeout,
            data={"csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""), "username": ADMIN_USER,
                  "password": ADMIN_PASSWORD, "next": "/admin/"},
        )
        if answer.status_code != 302:
            raise RuntimeError(f"admin login answered {answer.status_code} on {self.column}")

    def get(self, probe: Probe) -> float | str:
        """Seconds the answer took, or why it is not a time (status, timeout, refused connection)."""
        url = self.live.url(probe.path.format(**self.sample))
        started = time.perf_counter()
        try:
            if probe.auth == "admin":
                answer = self.session.get(url, timeout=self.timeout, allow_redirects=False)
            else:
                answer = requests.get(url, timeout=self.timeout, headers={"Authorization": f"Token {self.token}"})
        except requests.Timeout:
            return f"no answer in {self.timeout:g} s"
        except requests.RequestException as exc:
            return f"error: {type(exc).__name__}"
        elapsed = time.perf_counter() - started
        return elapsed if answer.status_code == 200 else f"HTTP {answer.status_code}"

    def push_burst(self, pushes: int) -> dict:
        result = load_run(
            host="127.0.0.1", port=self.live.port, path="/api/ingress/gmail", token=TOKEN,
            make_body=push_body(f"scale-{uuid.uuid4().hex[:8]}"), concurrency=8, total=pushes, max_seconds=60,
        )
        return {"requests_per_second": round(len(result.latencies) / result.elapsed, 1),
                "p50_ms": round(result.percentile(50) * 1000, 1), "non_2xx": result.count - len(result.latencies),
                "errors": result.errors}


# --- databases ----------------------------------------------------------------------------------------
class Databases:
    """Where each (database, size) lives: SQLite files under var/bench/, PostgreSQL databases on a server
    of this run or DATABASE_URL's. Everything made here is removed by `cleanup` (unless --keep)."""

    def __init__(self, run_dir: Path, keep: bool):
        self.run_dir, self.keep = run_dir, keep
        self.pg_base = ""
        self.pg_made: list[str] = []
        self.pg_started = False

    def url(self, database: str, size: int) -> str:
        if database == "sqlite":
            return f"sqlite:///{self.run_dir / f'sqlite-{size}.sqlite3'}"
        if not self.pg_base:
            self._pg_server()
        name = f"signal_{self.run_dir.name.replace('-', '_')}_{size}"
        self._pg_execute(f'CREATE DATABASE "{name}"')
        self.pg_made.append(name)
        return self.pg_base.rsplit("/", 1)[0] + "/" + name

    def _pg_server(self) -> None:
        given = os.environ.get("DATABASE_URL", "")
        if given.startswith(("postgres://", "postgresql://")):
            self.pg_base = given
            return
        from tests import servers

        self.pg_started = True
        self.pg_base = servers.postgresql_start(Path(tempfile.mkdtemp(prefix="signal-bench-scale-pg-")) / "pg")

    def _pg_execute(self, statement: str, wait: float = 60) -> None:
        """Run `statement` on the server, waiting up to `wait` seconds for a server still starting up."""
        import psycopg

        deadline = time.monotonic() + wait
        while True:
            try:
                url = self.pg_base.rsplit("/", 1)[0] + "/postgres"
                with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
                    connection.execute(statement)
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def cleanup(self) -> None:
        if self.keep:
            progress(f"kept: {self.run_dir} {' '.join(self.pg_made)}")
            return
        for name in self.pg_made:
            self._pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.pg_started:
            from tests import servers

            servers.servers_stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


# --- measuring ----------------------------------------------------------------------------------------
def measure(targets: list[Target], probes: list[Probe], rounds: int) -> dict:
    """{probe name: {column: every time in ms, or the first error}}; rounds interleaved across targets."""
    results: dict = {probe.name: {t.column: [] for t in targets} for probe in probes}
    for number in range(1, rounds + 1):
        progress(f"round {number}/{rounds}")
        for probe in probes:
            for target in targets:
                times = results[probe.name][target.column]
                if isinstance(times, str):
                    continue  # it failed once: not asked again
                outcome = target.get(probe)
                results[probe.name][target.column] = (
                    outcome if isinstance(outcome, str) else [*times, round(outcome * 1000, 1)]
                )
    return results


def ingress_measure(targets: list[Target], rounds: int, pushes: int) -> dict:
    bursts: dict = {t.column: [] for t in targets}
    for _ in range(rounds):
        for target in targets:
            bursts[target.column].append(target.push_burst(pushes))
            time.sleep(2)  # the worker delivers this burst before the next one starts
    return {column: {"requests_per_second": statistics.median(b["requests_per_second"] for b in runs),
                     "rounds": runs} for column, runs in bursts.items()}


def database_run(database: str, sizes: list[int], dbs: Databases, args) -> dict:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", str(port := free_port())], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    targets: list[Target] = []
    try:
        for size in sizes:
            target = Target(database, size, dbs.url(database, size), f"http://127.0.0.1:{port}/hook", args)
            targets.append(target)
            progress(f"{database}: seeding {size:,} e-mails")
            target.seed(args.seed_timeout)
            progress(f"{database}: seeded {target.seeded}")
        for target in targets:
            target.start()
        probes = [p for p in PROBES if not args.only or p.name in args.only]
        report = {"seeding": {t.column: t.seeded for t in targets}, "requests": measure(targets, probes, args.rounds)}
        if not args.only or INGRESS in args.only:
            progress(f"{database}: ingress bursts")
            report["ingress"] = ingress_measure(targets, args.rounds, args.pushes)
        return report
    finally:
        for target in targets:
            target.live.stop()
            shutil.rmtree(target.live.var_dir, ignore_errors=True)
        receiver.terminate()
        receiver.wait(timeout=10)


# --- report -------------------------------------------------------------------------------------------
def cell(times) -> str:
    if isinstance(times, str):
        return times
    return f"{statistics.median(times):,.0f} ms" if times else "–"


def table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """The columns (size × database) and one row per request, then ingress."""
    columns = [column for run in report["databases"].values() for column in run["seeding"]]
    rows = []
    for probe in PROBES:
        found = [run["requests"][probe.name] for run in report["databases"].values() if probe.name in run["requests"]]
        if found:
            merged = {column: times for part in found for column, times in part.items()}
            rows.append([probe.label] + [cell(merged.get(column, "–")) for column in columns])
    ingress = {c: f for run in report["databases"].values() for c, f in run.get("ingress", {}).items()}
    if ingress:
        rows.append(["ingress: pushes/s, c=8 (median round)"]
                    + [f"{ingress[c]['requests_per_second']:,.0f}/s" if c in ingress else "–" for c in columns])
    seeding = {c: s for run in report["databases"].values() for c, s in run["seeding"].items()}
    rows.append(["seeding (s)"] + [f"{seeding[c]['seconds']:,.0f} s" for c in columns])
    return columns, rows


def text_table(report: dict) -> str:
    columns, rows = table_rows(report)
    width = max(len(row[0]) for row in rows) + 2
    widths = [max(14, len(column)) + 2 for column in columns]
    lines = [" " * width + "".join(f"{column:>{w}}" for column, w in zip(columns, widths, strict=True))]
    lines += [f"{row[0]:<{width}}" + "".join(f"{value:>{w}}" for value, w in zip(row[1:], widths, strict=True))
              for row in rows]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    columns, rows = table_rows(report)
    head = (f"Measured {report['date']} on commit {report['commit']}, {report['machine']}; median of "
            f"{report['rounds']} requests each, every size's service running side by side, rounds interleaved.\n\n")
    lines = ["| request | " + " | ".join(columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return head + "\n".join(lines) + "\n"


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()} {os.cpu_count()} CPUs, {memory:.0f} GB, Python {platform.python_version()}"


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                           timeout=30)
    return found.stdout.strip() or "unknown"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="e-mails in each database, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--rounds", type=int, default=5, help="requests per figure (the median is reported)")
    parser.add_argument("--only", help=f"comma-separated: {', '.join(p.name for p in PROBES)}, {INGRESS}")
    parser.add_argument("--pushes", type=int, default=200, help="pushes per ingress burst")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a request may take")
    parser.add_argument("--seed-timeout", type=float, default=3600, help="seconds seeding one database may take")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases (their place is printed)")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.databases = args.databases.split(",")
    args.only = set(args.only.split(",")) if args.only else set()
    known = {p.name for p in PROBES} | {INGRESS}
    if args.only - known or set(args.databases) - set(DATABASE_NAMES):
        parser.error(f"unknown: {sorted((args.only - known) | (set(args.databases) - set(DATABASE_NAMES)))}")
    return args


def main() -> None:
    args = arguments()
    # SIGTERM unwinds like Ctrl-C, so the services and servers started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    dbs = Databases(ROOT / "var" / "bench" / f"scale-{stamp}", keep=args.keep)
    dbs.run_dir.mkdir(parents=True, exist_ok=True)
    report = {"date": datetime.now().isoformat(timespec="seconds"), "commit": commit(), "machine": machine(),
              "rounds": args.rounds, "pushes": args.pushes, "databases": {}}
    output = ROOT / "var" / "bench" / f"scale-{stamp}"
    try:
        for database in args.databases:
            report["databases"][database] = database_run(database, args.sizes, dbs, args)
            # Written after each database: a later failure or Ctrl-C keeps what was measured.
            output.with_suffix(".json").write_text(json.dumps(report, indent=2))
            output.with_suffix(".md").write_text(markdown(report))
    finally:
        dbs.cleanup()
    print(text_table(report))
    print(f"\nwritten: {output}.json, {output}.md")


if __name__ == "__main__":
    main()
