"""The programs the suite runs for real beside Python, where to find them, and how to install them.

`python -m tests.prerequisites --install` (run by `make test` before pytest) installs the missing ones
from the distribution's packages when this user may (root, or passwordless sudo); otherwise, or when
installing fails, it names what is missing and the one command that installs it, and exits 1, so no
test starts without them. The pytest plugin (tests/servers.py) reads the same table to refuse a run
whose tests need a program that is not there.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # Debian's package
    purpose: str
    commands: tuple[str, ...] = ()  # names on PATH, tried in order
    globs: tuple[str, ...] = ()  # fixed install paths (PostgreSQL's server programs are not on PATH)
    env: str = ""  # a variable that points at the program explicitly


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "postgresql", "postgresql", "the PostgreSQL runs (pg_ctl, initdb, postgres)",
            commands=("pg_ctl",), globs=("/usr/lib/postgresql/*/bin/pg_ctl",), env="PG_CTL",
        ),
        Tool("redis", "redis-server", "the Redis runs and the Redis outage tests", commands=("redis-server",)),
        Tool(
            "chromium", "chromium", "the admin pages in headless Chromium",
            commands=("chromium", "chromium-browser"), env="CHROMIUM_PATH",
        ),
        Tool("node", "nodejs", "the Apps Script (Code.gs) under Node.js", commands=("node",)),
    )
}


def tool_path(name: str) -> str | None:
    """Where the program is, or None; an explicit variable wins, then PATH, then the newest fixed path."""
    tool = TOOLS[name]
    explicit = os.environ.get(tool.env, "") if tool.env else ""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for command in tool.commands:
        found = shutil.which(command)
        if found:
            return found
    for pattern in tool.globs:
        matches = sorted(glob.glob(pattern), key=_version_key)
        if matches:
            return matches[-1]
    return None


def _version_key(path: str) -> list[int]:
    return [int(part) for part in path.split("/") if part.isdigit()]


def tools_missing(names) -> list[str]:
    return [name for name in names if tool_path(name) is None]


def install_command(names) -> str:
    packages = " ".join(TOOLS[name].package for name in names)
    prefix = "" if os.geteuid() == 0 else "sudo "
    return f"{prefix}apt-get install -y --no-install-recommends {packages}"


def missing_message(names) -> str:
    lines = [f"  - {name}: needed for {TOOLS[name].purpose}" for name in names]
    return "\n".join(
        ["Missing programs the test suite runs for real:", *lines, f"Install them with: {install_command(names)}"]
    )


def _sudo_prefix() -> list[str] | None:
    """[] as root, ["sudo", "-n"] with passwordless sudo, None when this user cannot install packages."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def packages_install(names) -> bool:
    prefix = _sudo_prefix()
    if prefix is None or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = [TOOLS[name].package for name in names]
    print(f"Installing {', '.join(packages)} from the distribution's packages…", file=sys.stderr, flush=True)
    update = subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env)
    install = subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env
    )
    return update.returncode == 0 and install.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install what is missing when this user may")
    parser.add_argument("tools", nargs="*", default=list(TOOLS), help=f"among {', '.join(TOOLS)} (default: all)")
    args = parser.parse_args(argv)
    missing = tools_missing(args.tools)
    if missing and args.install and packages_install(missing):
        missing = tools_missing(missing)
    if missing:
        print(missing_message(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
