"""Regexes in routing conditions: one engine (`regex`), one compile path, bounded in time and memory.

At ingress a regex search is cut off after MATCH_TIMEOUT_SECONDS and the regex conditions of one
e-mail share BUDGET_SECONDS, so no pattern can stall a push; a search cut off counts as "no match"
and is reported. At save time `regex_check` refuses what would be cut off anyway: it compiles the
pattern and runs it on probe texts in a child process with a memory cap, because the engine can
spend hundreds of megabytes compiling a short pattern such as `a{1000000}`.
"""

import json
import logging
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import regex

from routing.text import pattern_fold, text_exact, text_fold

logger = logging.getLogger("routing")

REGEX_MAX_LENGTH = 200
MATCH_TIMEOUT_SECONDS = 0.1
BUDGET_SECONDS = 0.5

PROBE_TIMEOUT_SECONDS = 0.05
PROBE_RUN_LENGTH = 512
COMPILE_LIMIT_SECONDS = 0.05
MEMORY_HEADROOM_BYTES = 64 * 1024 * 1024
CHECK_WALL_SECONDS = 10
_PROBE_SCRIPT = Path(__file__).with_name("regex_probe.py")
_TOO_COMPLEX = (
    "This regular expression is too complex to compile quickly (very large or nested repetition counts "
    "such as a{1000000}); simplify it."
)
# Runs of one character expose nested quantifiers ((a+)+$, (\w+\s?)+$); the sample exposes patterns
# that are merely slow on ordinary French text. Neither is a proof: the runtime bound is the guarantee.
_PROBE_CHARACTERS = "aA0 .-_@x,;:/"
_PROBE_SAMPLE = (
    "Bonjour Madame, Monsieur, veuillez trouver ci-joint la facture n°2026-0412 du 10/04/2026 "
    "concernant la journée de prises de vue (lot 107, missions recadrage). Le règlement est attendu "
    "sous 30 jours ; passé ce délai, des pénalités s'appliquent. Les fichiers sont disponibles ici : "
    "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0 — merci de confirmer la réception à "
    "jean.dupont@media-solution.fr ou au 01 23 45 67 89. Cordialement, L'équipe Média Solution. "
) * 24


def regex_flags(case_sensitive: bool) -> int:
    return 0 if case_sensitive else regex.IGNORECASE


def regex_source(value: str, case_sensitive: bool) -> str:
    """The pattern as it runs: case-insensitive ones lose their accents, like the text they search."""
    return text_exact(value) if case_sensitive else pattern_fold(value)


@lru_cache(maxsize=1024)
def regex_compiled(source: str, flags: int) -> regex.Pattern:
    return regex.compile(source, flags)


def regex_probe_texts(source: str, case_sensitive: bool) -> list[str]:
    literals = "".join(c for c in source if c.isalnum())
    characters = list(dict.fromkeys(_PROBE_CHARACTERS + literals))[:32]
    texts = [c * PROBE_RUN_LENGTH + "\x00" for c in characters] + [_PROBE_SAMPLE]
    # The search runs on the same view as at ingress (folded text for case-insensitive patterns).
    return texts if case_sensitive else [text_fold(t) for t in texts]


@lru_cache(maxsize=256)
def regex_check(value: str, case_sensitive: bool) -> str | None:
    """Why this pattern cannot be used in a condition, or None when it can."""
    if len(value) > REGEX_MAX_LENGTH:
        return f"Regular expressions are limited to {REGEX_MAX_LENGTH} characters; this one has {len(value)}."
    source = regex_source(value, case_sensitive)
    texts = regex_probe_texts(source, case_sensitive)
    request = {
        "pattern": source,
        "flags": regex_flags(case_sensitive),
        "texts": texts,
        "probe_timeout_seconds": PROBE_TIMEOUT_SECONDS,
        "compile_limit_seconds": COMPILE_LIMIT_SECONDS,
        "memory_headroom_bytes": MEMORY_HEADROOM_BYTES,
    }
    try:
        completed = subprocess.run(
            [sys.executable, "-I", str(_PROBE_SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=CHECK_WALL_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return _TOO_COMPLEX
    try:
        answer = json.loads(completed.stdout)
    except ValueError:
        # The child died without answering: the memory cap or the engine gave up on this pattern.
        logger.warning("ROUTING_RULES: regex check child exited %s: %s", completed.returncode, completed.stderr[-500:])
        return _TOO_COMPLEX
    status = answer.get("status")
    if status == "syntax":
        return f"This regular expression does not compile: {answer['message']}."
    if status == "too_complex":
        return _TOO_COMPLEX
    if status == "too_slow":
        text = texts[answer["probe"]]
        sample = "a sample e-mail" if text == texts[-1] else f'"{text[:3]}…" ({len(text)} characters)'
        return (
            f"This regular expression is too slow: it needed more than {PROBE_TIMEOUT_SECONDS * 1000:.0f} ms "
            f"on {sample}, so on real e-mails it would be cut off and never match. "
            "Avoid nested repetition such as (a+)+ or (\\w+\\s?)+$."
        )
    return None

