"""Routing-rule evaluation (SPEC §6) as pure functions over validated, pre-compiled rules.

`rules_evaluate` is what ingress runs. `rules_explain` runs the very same walk and adds what the
admin "Test rules" page shows: every condition's verdict, which ones were needed, inactive rules and
the rules after a stop. What each condition tests is the table in routing/conditions.py; the
semantics are documented in docs/routing.md.
"""

import time
from dataclasses import dataclass

import regex

from routing.conditions import CompiledCondition, RoutableEmail, conditions_describe
from routing.regexes import BUDGET_SECONDS, MATCH_TIMEOUT_SECONDS, regex_compiled, regex_flags


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    match: str  # all | any
    endpoint_id: int | None
    priority: str
    stop_processing: bool
    conditions: tuple[CompiledCondition, ...]
    position: int = 0
    is_active: bool = True
    endpoint_active: bool = True
    endpoint_name: str = ""

    @property
    def reference(self) -> dict:
        return {"id": self.id, "name": self.name, "priority": self.priority}

    @property
    def label(self) -> str:
        return f'rule #{self.position} "{self.name}"'

    @property
    def summary(self) -> str:
        return conditions_describe(self.match, [c.summary for c in self.conditions])


@dataclass(frozen=True)
class ConditionVerdict:
    condition: CompiledCondition
    matched: bool
    note: str = ""  # why a regex gave no answer (timed out, budget spent, invalid)
    evaluated: bool = True  # False: evaluation did not need it; computed for the test page only


class _Budget:
    """Regex time left for one e-mail."""

    def __init__(self, seconds: float):
        self.remaining = seconds


def _condition_check(condition: CompiledCondition, email: RoutableEmail, budget: _Budget) -> ConditionVerdict:
    check = condition.check
    if check is None:
        return ConditionVerdict(
            condition, False, f"unknown condition {condition.field} {condition.operator!r} never matches"
        )
    if check.kind != "none" and condition.needle in ("", None, frozenset()):
        return ConditionVerdict(condition, False, "empty value never matches")
    values = check.view(email, condition)
    if check.test is None:
        return _regex_check(condition, values, budget)
    return ConditionVerdict(condition, check.test(values, condition.needle))


def _regex_check(condition: CompiledCondition, values: tuple, budget: _Budget) -> ConditionVerdict:
    """Whether the regex is found in any of the values, each search under the e-mail's time budget."""
    try:
        pattern = regex_compiled(condition.needle, regex_flags(condition.case_sensitive))
    except regex.error as exc:
        return ConditionVerdict(condition, False, f"invalid regular expression ({exc}) never matches")
    for haystack in values:
        if budget.remaining <= 0:
            return ConditionVerdict(condition, False, "not run: this e-mail's regex time budget is spent")
        timeout = min(MATCH_TIMEOUT_SECONDS, budget.remaining)
        started = time.perf_counter()
        try:
            found = pattern.search(haystack, timeout=timeout, concurrent=True) is not None
        except TimeoutError:
            return ConditionVerdict(condition, False, f"timed out after {timeout * 1000:.0f} ms, counted as no match")
        finally:
            budget.remaining -= time.perf_counter() - started
        if found:
            return ConditionVerdict(condition, True)
    return ConditionVerdict(condition, False)


def _rule_check(rule: CompiledRule, email: RoutableEmail, budget: _Budget) -> tuple[bool, dict[int, ConditionVerdict]]:
    """(matched, verdicts by condition index); stops as soon as the match mode is decided."""
    verdicts: dict[int, ConditionVerdict] = {}
    if not rule.conditions:
        return False, verdicts
    wanted = rule.match == "any"
    for index, condition in sorted(enumerate(rule.conditions), key=lambda item: item[1].cost):
        verdicts[index] = verdict = _condition_check(condition, email, budget)
        if verdict.matched == wanted:
            return wanted, verdicts
    return not wanted, verdicts


@dataclass(frozen=True)
class RoutingTarget:
    endpoint_id: int
    rule: dict | None = None  # {"id", "name", "priority"} when a rule chose this endpoint


@dataclass(frozen=True)
class RoutingDecision:
    targets: tuple[RoutingTarget, ...]
    stopped: bool = False
    matched_rules: tuple[dict, ...] = ()
    stopped_by: dict | None = None
    warnings: tuple[str, ...] = ()
    default_endpoint_id: int | None = None

    @property
    def default_added(self) -> bool:
        return any(t.endpoint_id == self.default_endpoint_id and t.rule is None for t in self.targets)

    @property
    def default_suppressed(self) -> bool:
        """A stop rule kept the default endpoint from receiving the e-mail as the default."""
        return self.stopped and self.default_endpoint_id is not None

    def as_record(self) -> dict:
        """What InboundEmail.decision keeps about routing."""
        record = {"matched_rules": list(self.matched_rules), "endpoints": [t.endpoint_id for t in self.targets]}
        if self.stopped_by:
            record["stopped_by"] = self.stopped_by
        if self.warnings:
            record["routing_warnings"] = list(self.warnings)
        return record


@dataclass(frozen=True)
class _Step:
    rule: CompiledRule
    matched: bool
    verdicts: dict[int, ConditionVerdict]


def _walk(
    rules: tuple[CompiledRule, ...], email: RoutableEmail, default_endpoint_id: int | None
) -> tuple[RoutingDecision, list[_Step]]:
    budget = _Budget(BUDGET_SECONDS)
    targets: dict[int, RoutingTarget] = {}
    steps: list[_Step] = []
    stopped_by = None
    for rule in rules:
        if not rule.is_active:
            continue
        matched, verdicts = _rule_check(rule, email, budget)
        steps.append(_Step(rule, matched, verdicts))
        if not matched:
            continue
        if rule.endpoint_id is not None and rule.endpoint_id not in targets:
            # An inactive endpoint is still a target: its delivery waits, paused, until it is activated.
            targets[rule.endpoint_id] = RoutingTarget(rule.endpoint_id, rule.reference)
        if rule.stop_processing:
            stopped_by = rule.reference
            break
    if stopped_by is None and default_endpoint_id is not None and default_endpoint_id not in targets:
        targets[default_endpoint_id] = RoutingTarget(default_endpoint_id)
    decision = RoutingDecision(
        targets=tuple(targets.values()),
        stopped=stopped_by is not None,
        matched_rules=tuple(s.rule.reference for s in steps if s.matched),
        stopped_by=stopped_by,
        warnings=tuple(_warnings(steps)),
        default_endpoint_id=default_endpoint_id,
    )
    return decision, steps


def _warnings(steps: list[_Step]):
    for step in steps:
        for index, verdict in sorted(step.verdicts.items()):
            if verdict.note:
                yield f"{step.rule.label}, condition {index + 1} ({verdict.condition.summary}): {verdict.note}"
        if step.matched and step.rule.endpoint_id is not None and not step.rule.endpoint_active:
            name = step.rule.endpoint_name or f"#{step.rule.endpoint_id}"
            yield f"{step.rule.label} matched but its endpoint {name} is inactive: its delivery waits, paused"


def rules_evaluate(
    rules: tuple[CompiledRule, ...], email: RoutableEmail, default_endpoint_id: int | None
) -> RoutingDecision:
    """Active rules in order: each match adds its endpoint; a stop ends evaluation and suppresses the default."""
    return _walk(rules, email, default_endpoint_id)[0]


@dataclass(frozen=True)
class RuleExplanation:
    rule: CompiledRule
    state: str  # matched | no_match | inactive | not_reached
    matched: bool  # what the conditions say, even for a rule that was not evaluated
    conditions: tuple[ConditionVerdict, ...]  # in the rule's order
    stopped_here: bool = False
    target: str = ""  # added | already_added | "" (no endpoint, or no match)


@dataclass(frozen=True)
class RoutingExplanation:
    rules: tuple[RuleExplanation, ...]
    decision: RoutingDecision


def rules_explain(
    rules: tuple[CompiledRule, ...], email: RoutableEmail, default_endpoint_id: int | None
) -> RoutingExplanation:
    """The ingress decision for `email`, with the reasons, for every rule given (active or not)."""
    decision, steps = _walk(rules, email, default_endpoint_id)
    by_rule = {step.rule.id: step for step in steps}
    # Informational verdicts get their own budget so they can never change the decision shown.
    spare = _Budget(BUDGET_SECONDS)
    explained = []
    for rule in rules:
        step = by_rule.get(rule.id)
        verdicts = dict(step.verdicts) if step else {}
        for index, condition in enumerate(rule.conditions):
            if index not in verdicts:
                verdict = _condition_check(condition, email, spare)
                verdicts[index] = ConditionVerdict(condition, verdict.matched, verdict.note, evaluated=False)
        conditions = tuple(verdicts[i] for i in range(len(rule.conditions)))
        if step is None:
            matched = bool(conditions) and (
                any(v.matched for v in conditions) if rule.match == "any" else all(v.matched for v in conditions)
            )
            state = "inactive" if not rule.is_active else "not_reached"
            explained.append(RuleExplanation(rule, state, matched, conditions))
            continue
        explained.append(
            RuleExplanation(
                rule,
                "matched" if step.matched else "no_match",
                step.matched,
                conditions,
                stopped_here=decision.stopped_by is not None and decision.stopped_by["id"] == rule.id,
                target=_target_state(rule, step, decision),
            )
        )
    return RoutingExplanation(tuple(explained), decision)


def _target_state(rule: CompiledRule, step: _Step, decision: RoutingDecision) -> str:
    if not step.matched or rule.endpoint_id is None:
        return ""
    chosen = next((t for t in decision.targets if t.endpoint_id == rule.endpoint_id), None)
    return "added" if chosen is not None and chosen.rule and chosen.rule["id"] == rule.id else "already_added"
