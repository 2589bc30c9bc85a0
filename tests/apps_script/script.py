"""Runs apps_script/Code.gs under Node.js (tests/apps_script/harness.js) against a mailbox scenario."""

import json
import subprocess
from pathlib import Path

from tests import prerequisites

HARNESS = Path(__file__).with_name("harness.js")
LABEL = "A_TRANSFERER_WEBHOOK"
FAILURE_LABEL = "SIGNAL_ECHEC"
DROPBOX = "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0"


def script_run(scenario: dict, timeout: float = 120) -> dict:
    """One run of the script; returns the scenario as the script left it, with `requests` and `logs`."""
    result = subprocess.run(
        [prerequisites.tool_path("node"), str(HARNESS)],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"harness failed ({result.returncode}):\n{result.stderr}")
    state = json.loads(result.stdout)
    assert "error" not in state, f"Code.gs raised: {state['error']}\nlogs: {state['logs']}"
    return state


def message(message_id: str, subject: str, *, unread: bool = True, link: bool = True, **overrides) -> dict:
    body = f'<div dir="ltr">Bonjour, {subject} : <a href="{DROPBOX.replace("&", "&amp;")}">fichiers</a></div>'
    values = {
        "id": message_id,
        "from": "Technique <technique@media-solution.fr>",
        "subject": subject,
        "date": "2026-04-10T09:54:38.000Z",
        "body": body if link else f"<p>{subject}</p>",
        "plainBody": f"Bonjour, {subject} : fichiers " + "x" * 300,
        "unread": unread,
    }
    values.update(overrides)
    return values


def thread(thread_id: str, *messages: dict, labelled: bool = True) -> dict:
    return {"id": thread_id, "labels": [LABEL] if labelled else [], "messages": list(messages)}


def mailbox(properties: dict, *threads: dict, call: str = "processWebhookTransfer") -> dict:
    return {"call": call, "properties": properties, "labels": [LABEL], "threads": list(threads), "triggers": []}


def relabel(state: dict, *thread_ids: str) -> dict:
    """The state for the next run (mailbox, labels, script cache), with the label put back on these threads
    (as a user would)."""
    again = {k: v for k, v in state.items() if k not in ("requests", "logs", "lookups")}
    for t in again["threads"]:
        if t["id"] in thread_ids and LABEL not in t["labels"]:
            t["labels"].append(LABEL)
    return again


def labels_of(state: dict, thread_id: str) -> list[str]:
    return next(t["labels"] for t in state["threads"] if t["id"] == thread_id)


def batches(state: dict) -> list[dict]:
    """The run's push requests (POSTs to the batch ingress), in order."""
    return [r for r in state["requests"] if r["method"] == "post"]


def failure_queries(state: dict) -> list[dict]:
    """The run's requests for the failed deliveries (GETs)."""
    return [r for r in state["requests"] if r["method"] == "get"]


def pushed(state: dict) -> list[tuple[str, int]]:
    """(message id, HTTP status it got) for every message the run sent, in order, across its batch requests."""
    answers = []
    for request in batches(state):
        items = json.loads(request["body"])["emails"]
        results = json.loads(request["response"]).get("results") if request.get("code") == 200 else None
        for n, item in enumerate(items):
            answers.append((item["message_id"], results[n]["code"] if results else request.get("code", 0)))
    return answers


def item_answers(state: dict) -> list[dict]:
    """Each message's own answer (the batch result item), in order."""
    return [result for r in batches(state) for result in json.loads(r["response"])["results"]]
