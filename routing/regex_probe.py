"""Child process of routing.regexes.regex_check: compile and probe one pattern under hard limits.

Run as a script (`python -I regex_probe.py`, request as JSON on stdin, answer as JSON on stdout) so a
pattern whose compilation explodes (`a{1000000}` needs ~300 MB in the `regex` engine) or whose
matching never ends can only hurt this short-lived process, never a web worker. It imports nothing
from the project: the parent sends the flags, limits and probe texts.
"""

import json
import resource
import sys
import time

import regex


def _address_space() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _memory_cap(headroom: int) -> None:
    current = _address_space()
    if current is not None:
        resource.setrlimit(resource.RLIMIT_AS, (current + headroom, current + headroom))


def probe(request: dict) -> dict:
    _memory_cap(request["memory_headroom_bytes"])
    started = time.perf_counter()
    try:
        pattern = regex.compile(request["pattern"], request["flags"])
    except regex.error as exc:
        return {"status": "syntax", "message": str(exc)}
    except (MemoryError, OverflowError, RecursionError):
        return {"status": "too_complex"}
    if time.perf_counter() - started > request["compile_limit_seconds"]:
        return {"status": "too_complex"}
    for index, text in enumerate(request["texts"]):
        try:
            pattern.search(text, timeout=request["probe_timeout_seconds"])
        except TimeoutError:
            return {"status": "too_slow", "probe": index}
        except MemoryError:
            return {"status": "too_complex"}
    return {"status": "ok"}


if __name__ == "__main__":
    json.dump(probe(json.load(sys.stdin)), sys.stdout)
