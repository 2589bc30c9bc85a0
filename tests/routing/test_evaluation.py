"""SPEC §6 evaluation, as a table of rule sets and e-mails, plus the regex time bound and the explanation."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.conditions import CHECKS, condition_describe
from routing.evaluation import CompiledCondition, CompiledRule, RoutableEmail, rules_evaluate, rules_explain
from routing.models import RoutingCondition
from routing.regexes import BUDGET_SECONDS, MATCH_TIMEOUT_SECONDS

DEFAULT = 100
BILLING, SUPPORT, ARCHIVE = 1, 2, 3


def cond(field, operator, value="", case_sensitive=False, header_name=""):
    return CompiledCondition.build(field, operator, value, case_sensitive, header_name)


def rule(rule_id, *conditions, match="all", endpoint=None, stop=False, active=True, endpoint_active=True):
    return CompiledRule(
        id=rule_id,
        name=f"rule {rule_id}",
        match=match,
        endpoint_id=endpoint,
        priority="normal",
        stop_processing=stop,
        conditions=conditions,
        position=rule_id,
        is_active=active,
        endpoint_active=endpoint_active,
    )


def email(subject="", sender="Jean Dupont <jean@client.fr>", body=""):
    return RoutableEmail(sender=sender, subject=subject, body_text=body)


def targets(decision):
    return [(t.endpoint_id, t.rule["id"] if t.rule else None) for t in decision.targets]


FACTURE = cond("subject", "contains", "facture")

# (rules, e-mail, default endpoint, expected [(endpoint, rule id or None)], expected stopped)
CASES = {
    "no rule: the default endpoint only": ((), email("Bonjour"), DEFAULT, [(DEFAULT, None)], False),
    "no rule and no default: nowhere": ((), email("Bonjour"), None, [], False),
    "a match adds its endpoint beside the default": (
        (rule(1, FACTURE, endpoint=BILLING),),
        email("Votre facture"),
        DEFAULT,
        [(BILLING, 1), (DEFAULT, None)],
        False,
    ),
    "no match: the default endpoint only": (
        (rule(1, FACTURE, endpoint=BILLING),),
        email("Bonjour"),
        DEFAULT,
        [(DEFAULT, None)],
        False,
    ),
    "a stop rule suppresses the default": (
        (rule(1, FACTURE, endpoint=BILLING, stop=True),),
        email("Facture 12"),
        DEFAULT,
        [(BILLING, 1)],
        True,
    ),
    "a stop rule without endpoint drops the e-mail": (
        (rule(1, cond("subject", "contains", "newsletter"), stop=True),),
        email("Newsletter"),
        DEFAULT,
        [],
        True,
    ),
    "rules run in order: a stop hides later matches": (
        (rule(1, FACTURE, endpoint=BILLING, stop=True), rule(2, FACTURE, endpoint=SUPPORT)),
        email("facture"),
        DEFAULT,
        [(BILLING, 1)],
        True,
    ),
    "earlier matches keep their endpoints when a later rule stops": (
        (rule(1, FACTURE, endpoint=SUPPORT), rule(2, FACTURE, endpoint=BILLING, stop=True)),
        email("facture"),
        DEFAULT,
        [(SUPPORT, 1), (BILLING, 2)],
        True,
    ),
    "a non-matching stop rule does not stop": (
        (rule(1, cond("subject", "contains", "devis"), stop=True), rule(2, FACTURE, endpoint=BILLING)),
        email("facture"),
        DEFAULT,
        [(BILLING, 2), (DEFAULT, None)],
        False,
    ),
    "duplicate endpoints collapse onto the first rule": (
        (rule(1, FACTURE, endpoint=BILLING), rule(2, cond("subject", "contains", "12"), endpoint=BILLING)),
        email("facture 12"),
        DEFAULT,
        [(BILLING, 1), (DEFAULT, None)],
        False,
    ),
    "a rule targeting the default endpoint delivers once, as the rule": (
        (rule(1, FACTURE, endpoint=DEFAULT),),
        email("facture"),
        DEFAULT,
        [(DEFAULT, 1)],
        False,
    ),
    "inactive rules are ignored": (
        (rule(1, FACTURE, endpoint=BILLING, stop=True, active=False),),
        email("facture"),
        DEFAULT,
        [(DEFAULT, None)],
        False,
    ),
    "a rule without conditions never matches": (
        (rule(1, endpoint=BILLING, stop=True),),
        email("facture"),
        DEFAULT,
        [(DEFAULT, None)],
        False,
    ),
    "all: every condition must hold": (
        (rule(1, FACTURE, cond("sender", "contains", "@fournisseur.fr"), endpoint=BILLING),),
        email("facture"),
        DEFAULT,
        [(DEFAULT, None)],
        False,
    ),
    "any: one condition is enough": (
        (rule(1, cond("subject", "contains", "devis"), FACTURE, match="any", endpoint=BILLING),),
        email("facture"),
        DEFAULT,
        [(BILLING, 1), (DEFAULT, None)],
        False,
    ),
    "an inactive endpoint is still a target (its delivery waits paused), and its stop holds": (
        (rule(1, FACTURE, endpoint=BILLING, stop=True, endpoint_active=False),),
        email("facture"),
        DEFAULT,
        [(BILLING, 1)],
        True,
    ),
    "an inactive endpoint is still a target, the default added too without stop": (
        (rule(1, FACTURE, endpoint=BILLING, endpoint_active=False),),
        email("facture"),
        DEFAULT,
        [(BILLING, 1), (DEFAULT, None)],
        False,
    ),
}


@pytest.mark.parametrize(("rules", "mail", "default", "expected", "stopped"), CASES.values(), ids=CASES.keys())
def test_routing_table(rules, mail, default, expected, stopped):
    decision = rules_evaluate(rules, mail, default)
    assert targets(decision) == expected
    assert decision.stopped is stopped


@pytest.mark.parametrize(("rules", "mail", "default", "expected", "stopped"), CASES.values(), ids=CASES.keys())
def test_explanation_reaches_the_same_decision_as_evaluation(rules, mail, default, expected, stopped):
    assert rules_explain(rules, mail, default).decision == rules_evaluate(rules, mail, default)


# Condition semantics: (condition, e-mail, expected verdict)
CONDITIONS = {
    "contains ignores case": (cond("subject", "contains", "facture"), email("VOTRE FACTURE"), True),
    "contains ignores accents": (cond("subject", "contains", "facture"), email("Montant FACTURÉ"), True),
    "accents in the value are ignored too": (cond("subject", "contains", "journée"), email("JOURNEE complète"), True),
    "ligatures fold": (cond("body", "contains", "coeur"), email(body="Au cœur du sujet"), True),
    "repeated spaces count as one": (cond("subject", "contains", "votre facture"), email("Votre   facture"), True),
    "case-sensitive respects case": (cond("subject", "contains", "Facture", True), email("facture"), False),
    "case-sensitive matches the exact text": (cond("subject", "contains", "Facture", True), email("Facture 3"), True),
    "case-sensitive respects accents": (cond("subject", "contains", "facture", True), email("facturé"), False),
    "case-sensitive ignores Unicode composition": (
        cond("subject", "contains", "Facturé", True),
        email("Facture\u0301 le 3"),
        True,
    ),
    "equals is the whole value": (cond("subject", "equals", "votre facture"), email("  Votre  FACTURE "), True),
    "equals is not contains": (cond("subject", "equals", "votre facture"), email("Votre facture n°3"), False),
    "starts_with anchors at the start": (cond("subject", "starts_with", "re:"), email("RE: facture"), True),
    "starts_with is not contains": (cond("subject", "starts_with", "re:"), email("Fwd: RE: facture"), False),
    "not_contains holds when absent": (cond("subject", "not_contains", "newsletter"), email("Facture"), True),
    "not_contains fails when present": (cond("subject", "not_contains", "newsletter"), email("NEWSLETTER"), False),
    "not_contains holds on an empty subject": (cond("subject", "not_contains", "newsletter"), email(""), True),
    "sender equals compares the address": (
        cond("sender", "equals", "jean@client.fr"),
        email(sender="Jean Dupont <Jean@Client.FR>"),
        True,
    ),
    "sender equals ignores the address case even when case-sensitive": (
        cond("sender", "equals", "Jean@client.fr", True),
        email(sender="Jean <jean@CLIENT.fr>"),
        True,
    ),
    "sender starts_with compares the address": (
        cond("sender", "starts_with", "noreply@"),
        email(sender="Service client <noreply@boutique.fr>"),
        True,
    ),
    "sender contains sees the display name": (cond("sender", "contains", "dupont"), email(), True),
    "sender contains sees the address": (cond("sender", "contains", "@client.fr"), email(), True),
    "sender not_contains sees the whole From value": (cond("sender", "not_contains", "Dupont"), email(), False),
    "sender regex may target the address": (cond("sender", "regex", r"^jean@client\.fr$"), email(), True),
    "sender regex may target the display name": (cond("sender", "regex", r"^Jean Dupont <"), email(), True),
    "regex searches anywhere": (cond("body", "regex", r"n°\s*\d{4}-\d+"), email(body="facture n° 2026-0412"), True),
    "case-insensitive regex ignores accents both ways": (
        cond("subject", "regex", r"factur[eé]\b"),
        email("MONTANT FACTURÉ"),
        True,
    ),
    "accented regex letters match unaccented text": (cond("body", "regex", r"journée"), email(body="JOURNEE"), True),
    "case-sensitive regex respects case": (cond("subject", "regex", r"^Facture", True), email("facture 3"), False),
    "an empty value never matches": (CompiledCondition("subject", "contains", "", False, ""), email("x"), False),
}


@pytest.mark.parametrize(("condition", "mail", "expected"), CONDITIONS.values(), ids=CONDITIONS.keys())
def test_condition_semantics(condition, mail, expected):
    decision = rules_evaluate((rule(1, condition, endpoint=BILLING, stop=True),), mail, DEFAULT)
    assert bool(decision.matched_rules) is expected


def fact(**facts):
    """An e-mail with no text worth testing, only the facts ingress found."""
    return RoutableEmail(sender="a@b.fr", subject="", body_text="", **facts)


RECADRAGE, DESABO = "recadrage", "desabonnement_journee_tarifs"
TO_PARIS = ("missions+paris@acme.fr", "equipe@acme.fr")

# Conditions on what the e-mail is: (condition, e-mail, expected verdict)
FACT_CONDITIONS = {
    "detector equals its name": (cond("detector", "equals", RECADRAGE), fact(detector=RECADRAGE), True),
    "detector equals another name": (cond("detector", "equals", RECADRAGE), fact(detector=DESABO), False),
    "detector none matches an e-mail no detector recognised": (cond("detector", "equals", "none"), fact(), True),
    "detector none does not match a recognised one": (
        cond("detector", "equals", "none"),
        fact(detector=RECADRAGE),
        False,
    ),
    "detector in: one of the names": (cond("detector", "in", f"none, {DESABO}"), fact(detector=DESABO), True),
    "detector in: none of the names": (cond("detector", "in", f"none, {DESABO}"), fact(detector=RECADRAGE), False),
    "is_urgent is true on an urgent e-mail": (cond("is_urgent", "is_true"), fact(is_urgent=True), True),
    "is_urgent is true on another": (cond("is_urgent", "is_true"), fact(), False),
    "is_urgent is false on a calm e-mail": (cond("is_urgent", "is_false"), fact(), True),
    "is_urgent is false on an urgent one": (cond("is_urgent", "is_false"), fact(is_urgent=True), False),
    "provider: any link of it": (
        cond("provider", "equals", "wetransfer"),
        fact(providers=("dropbox", "wetransfer")),
        True,
    ),
    "provider: no link of it": (cond("provider", "equals", "wetransfer"), fact(providers=("dropbox",)), False),
    "provider: no link at all": (cond("provider", "equals", "dropbox"), fact(), False),
    "provider in: a link of one of them": (
        cond("provider", "in", "fromsmash, swisstransfer"),
        fact(providers=("swisstransfer",)),
        True,
    ),
    "provider in: links of others only": (
        cond("provider", "in", "fromsmash, swisstransfer"),
        fact(providers=("dropbox",)),
        False,
    ),
    "link_count = the number": (cond("link_count", "equals", "2"), fact(link_count=2), True),
    "link_count = another number": (cond("link_count", "equals", "2"), fact(link_count=3), False),
    "link_count = 0 holds without links": (cond("link_count", "equals", "0"), fact(), True),
    "link_count > below the count": (cond("link_count", "gt", "1"), fact(link_count=2), True),
    "link_count > is strict": (cond("link_count", "gt", "2"), fact(link_count=2), False),
    "link_count < above the count": (cond("link_count", "lt", "2"), fact(link_count=1), True),
    "link_count < is strict": (cond("link_count", "lt", "2"), fact(link_count=2), False),
    "recipient contains: part of any address": (
        cond("recipient", "contains", "+paris@"),
        fact(recipients=TO_PARIS),
        True,
    ),
    "recipient contains: in no address": (cond("recipient", "contains", "+lyon@"), fact(recipients=TO_PARIS), False),
    "recipient contains ignores case": (cond("recipient", "contains", "EQUIPE@"), fact(recipients=TO_PARIS), True),
    "recipient equals: one whole address": (
        cond("recipient", "equals", "Equipe@Acme.fr"),
        fact(recipients=TO_PARIS),
        True,
    ),
    "recipient equals is not contains": (cond("recipient", "equals", "equipe@acme"), fact(recipients=TO_PARIS), False),
    "recipient regex: any address": (
        cond("recipient", "regex", r"^missions\+\w+@acme\.fr$"),
        fact(recipients=TO_PARIS),
        True,
    ),
    "recipient: none known never matches": (cond("recipient", "contains", "@"), fact(), False),
    "header regex on the named header": (
        cond("header", "regex", r"news\.acme\.fr", header_name="list-id"),
        fact(headers={"list-id": "<news.acme.fr>"}),
        True,
    ),
    "header regex ignores case by default": (
        cond("header", "regex", r"^auto-replied$", header_name="auto-submitted"),
        fact(headers={"auto-submitted": "Auto-Replied"}),
        True,
    ),
    "header regex case-sensitive respects case": (
        cond("header", "regex", r"^auto-replied$", True, header_name="auto-submitted"),
        fact(headers={"auto-submitted": "Auto-Replied"}),
        False,
    ),
    "header regex does not look at other headers": (
        cond("header", "regex", "acme", header_name="list-id"),
        fact(headers={"return-path": "<a@acme.fr>"}),
        False,
    ),
    "header regex on a header sent twice: either value": (
        cond("header", "regex", "^b$", header_name="x-mailer"),
        fact(headers={"x-mailer": ["a", "b"]}),
        True,
    ),
    "header not sent never matches": (cond("header", "regex", ".*", header_name="list-id"), fact(), False),
}


@pytest.mark.parametrize(("condition", "mail", "expected"), FACT_CONDITIONS.values(), ids=FACT_CONDITIONS.keys())
def test_fact_condition_semantics(condition, mail, expected):
    decision = rules_evaluate((rule(1, condition, endpoint=BILLING, stop=True),), mail, DEFAULT)
    assert bool(decision.matched_rules) is expected
    assert decision.warnings == ()


def test_every_field_and_operator_of_the_model_has_a_check_and_every_check_a_choice():
    assert {f for f, _ in CHECKS} == set(RoutingCondition.Field.values)
    assert {o for _, o in CHECKS} == set(RoutingCondition.Operator.values)


def test_routable_email_of_reads_links_recipients_and_headers_as_ingress_has_them():
    links = [{"provider": "wetransfer", "raw_url": "u1"}, {"provider": "dropbox"}, {"provider": "dropbox"}]
    recipients = {"to": ["a@x.fr"], "cc": ["b@x.fr", "a@x.fr"], "reply_to": ["r@x.fr"], "delivered_to": ["d@x.fr"]}
    email = RoutableEmail.of(
        sender="S <s@x.fr>",
        subject="",
        body_text="",
        detector=None,
        links=links,
        recipients=recipients,
        headers={"list-id": "l"},
    )
    assert (email.detector, email.providers, email.link_count) == ("", ("dropbox", "wetransfer"), 3)
    assert email.recipients == ("a@x.fr", "b@x.fr", "d@x.fr")
    assert email.headers == {"list-id": "l"}


def test_an_email_built_the_old_way_knows_no_facts():
    email = RoutableEmail(sender="a@b.fr", subject="s", body_text="b")
    assert (email.detector, email.is_urgent, email.providers, email.link_count, email.recipients, email.headers) == (
        "",
        False,
        (),
        0,
        (),
        {},
    )


CATASTROPHIC = r"(a+)+$"
PATHOLOGICAL_BODY = "a" * 5000 + "!"


def test_catastrophic_regex_counts_as_no_match_within_its_time_bound():
    rules = (rule(1, cond("body", "regex", CATASTROPHIC), endpoint=BILLING, stop=True),)
    started = time.perf_counter()
    decision = rules_evaluate(rules, email(body=PATHOLOGICAL_BODY), DEFAULT)
    elapsed = time.perf_counter() - started
    assert targets(decision) == [(DEFAULT, None)]
    assert elapsed < MATCH_TIMEOUT_SECONDS + 0.5
    assert "timed out" in decision.warnings[0]


def test_regex_time_of_one_email_is_bounded_whatever_the_number_of_rules():
    rules = tuple(rule(i, cond("body", "regex", CATASTROPHIC), endpoint=BILLING) for i in range(1, 21))
    started = time.perf_counter()
    decision = rules_evaluate(rules, email(body=PATHOLOGICAL_BODY), DEFAULT)
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_SECONDS + 0.5
    assert any("budget is spent" in w for w in decision.warnings)


def test_a_timed_out_regex_does_not_prevent_later_rules():
    rules = (
        rule(1, cond("body", "regex", CATASTROPHIC), endpoint=BILLING),
        rule(2, cond("subject", "contains", "facture"), endpoint=SUPPORT, stop=True),
    )
    assert targets(rules_evaluate(rules, email("facture", body=PATHOLOGICAL_BODY), DEFAULT)) == [(SUPPORT, 2)]


def test_cheap_conditions_decide_first_so_a_slow_regex_is_not_run_needlessly():
    rules = (rule(1, cond("body", "regex", CATASTROPHIC), cond("subject", "contains", "devis"), endpoint=BILLING),)
    decision = rules_evaluate(rules, email("facture", body=PATHOLOGICAL_BODY), DEFAULT)
    assert decision.warnings == ()


def test_matching_rules_are_recorded_with_their_reference():
    rules = (rule(1, FACTURE, endpoint=BILLING), rule(2, FACTURE, stop=True))
    decision = rules_evaluate(rules, email("facture"), DEFAULT)
    assert decision.matched_rules == (
        {"id": 1, "name": "rule 1", "priority": "normal"},
        {"id": 2, "name": "rule 2", "priority": "normal"},
    )
    assert decision.stopped_by == {"id": 2, "name": "rule 2", "priority": "normal"}
    assert decision.default_suppressed


def test_decision_record_names_the_stop_and_warns_of_an_inactive_endpoint():
    rules = (rule(1, FACTURE, endpoint=BILLING, stop=True, endpoint_active=False),)
    record = rules_evaluate(rules, email("facture"), DEFAULT).as_record()
    assert record["endpoints"] == [BILLING]
    assert record["stopped_by"]["id"] == 1
    assert "is inactive: its delivery waits, paused" in record["routing_warnings"][0]


def test_decision_record_stays_small_when_nothing_notable_happened():
    assert rules_evaluate((), email("x"), DEFAULT).as_record() == {"matched_rules": [], "endpoints": [DEFAULT]}


# --- explanation (the admin "Test rules" page) -------------------------------------------------------
def test_explanation_gives_each_rule_a_state_and_marks_where_evaluation_stopped():
    rules = (
        rule(1, cond("subject", "contains", "devis"), endpoint=SUPPORT),
        rule(2, FACTURE, endpoint=BILLING, stop=True),
        rule(3, FACTURE, endpoint=ARCHIVE),
        rule(4, FACTURE, endpoint=ARCHIVE, active=False),
    )
    explained = rules_explain(rules, email("facture"), DEFAULT).rules
    assert [(r.rule.id, r.state, r.matched) for r in explained] == [
        (1, "no_match", False),
        (2, "matched", True),
        (3, "not_reached", True),
        (4, "inactive", True),
    ]
    assert [r.stopped_here for r in explained] == [False, True, False, False]
    assert explained[1].target == "added"


def test_explanation_shows_every_condition_and_which_ones_evaluation_needed():
    rules = (rule(1, cond("subject", "contains", "devis"), FACTURE, endpoint=BILLING),)
    verdicts = rules_explain(rules, email("facture"), DEFAULT).rules[0].conditions
    assert [(v.condition.value, v.matched, v.evaluated) for v in verdicts] == [
        ("devis", False, True),
        ("facture", True, False),
    ]


def test_explanation_tells_a_collapsed_duplicate_from_the_rule_that_added_the_endpoint():
    rules = (rule(1, FACTURE, endpoint=BILLING), rule(2, FACTURE, endpoint=BILLING))
    assert [r.target for r in rules_explain(rules, email("facture"), DEFAULT).rules] == ["added", "already_added"]


def test_explanation_adds_an_inactive_endpoint_and_warns_of_it():
    rules = (rule(1, FACTURE, endpoint=BILLING, endpoint_active=False),)
    explanation = rules_explain(rules, email("facture"), DEFAULT)
    assert explanation.rules[0].target == "added"
    assert BILLING in [t.endpoint_id for t in explanation.decision.targets]
    assert "inactive" in explanation.decision.warnings[0]


def test_informational_regexes_cannot_change_the_decision_shown():
    slow = tuple(rule(i, cond("body", "regex", CATASTROPHIC), active=False, stop=True) for i in range(1, 8))
    rules = (*slow, rule(9, cond("body", "regex", "a!$"), endpoint=BILLING))
    explanation = rules_explain(rules, email(body=PATHOLOGICAL_BODY), DEFAULT)
    assert targets(explanation.decision) == [(BILLING, 9), (DEFAULT, None)]


# --- one-line summaries -----------------------------------------------------------------------------------
def test_condition_summary_reads_as_a_sentence():
    assert condition_describe("subject", "contains", "facture", False) == 'subject contains "facture"'
    assert condition_describe("sender", "not_contains", "x", True) == 'sender does not contain "x" (case-sensitive)'
    assert condition_describe("body", "regex", 'say "hi"', False) == 'body matches regex "say \\"hi\\""'


def test_rule_summary_joins_conditions_with_its_match_mode():
    both = (FACTURE, cond("sender", "equals", "a@b.fr"))
    assert rule(1, *both).summary == 'subject contains "facture" AND sender equals "a@b.fr"'
    assert rule(1, *both, match="any").summary == 'subject contains "facture" OR sender equals "a@b.fr"'


@pytest.mark.parametrize(
    ("condition", "summary"),
    [
        (("detector", "in", "recadrage, none", False), 'detector is one of "recadrage, none"'),
        (("is_urgent", "is_true", "", False), "is_urgent is true"),
        (("link_count", "equals", "2", False), "link_count = 2"),
        (("link_count", "gt", "2", False), "link_count > 2"),
        (("provider", "equals", "dropbox", False), 'provider equals "dropbox"'),
        (("recipient", "contains", "+paris@", False), 'recipient contains "+paris@"'),
        (("header", "regex", "acme", False, "list-id"), 'header "list-id" matches regex "acme"'),
    ],
)
def test_fact_conditions_read_as_sentences(condition, summary):
    assert condition_describe(*condition) == summary


def test_long_values_are_shortened_in_summaries():
    assert len(condition_describe("body", "contains", "x" * 300, False)) < 100


# --- properties over arbitrary rule sets ----------------------------------------------------------------
WORDS = ["facture", "FACTURÉ", "devis", "Newsletter", "a@b.fr", "journée"]
conditions_strategy = st.builds(
    cond,
    st.sampled_from(["sender", "subject", "body"]),
    st.sampled_from(["contains", "not_contains", "equals", "starts_with"]),
    st.sampled_from(WORDS),
    st.booleans(),
)
rules_strategy = st.lists(
    st.tuples(
        st.lists(conditions_strategy, max_size=3),
        st.sampled_from(["all", "any"]),
        st.sampled_from([None, BILLING, SUPPORT, DEFAULT]),
        st.booleans(),
        st.booleans(),
    ),
    max_size=6,
).map(
    lambda specs: tuple(
        rule(i, *conds, match=match, endpoint=endpoint, stop=stop, active=active)
        for i, (conds, match, endpoint, stop, active) in enumerate(specs, start=1)
    )
)
emails_strategy = st.builds(
    email, st.sampled_from(WORDS + [""]), st.sampled_from(["a@b.fr", "Jean <A@B.fr>"]), st.sampled_from(WORDS + [""])
)


@settings(max_examples=300, deadline=None)
@given(rules=rules_strategy, mail=emails_strategy, default=st.sampled_from([None, DEFAULT]))
def test_routing_invariants(rules, mail, default):
    decision = rules_evaluate(rules, mail, default)
    endpoints = [t.endpoint_id for t in decision.targets]
    assert len(endpoints) == len(set(endpoints))
    assert rules_explain(rules, mail, default).decision == decision
    if default is not None and not decision.stopped:
        assert default in endpoints
    if decision.stopped:
        assert (default, None) not in targets(decision)
    matched_ids = {r["id"] for r in decision.matched_rules}
    assert all(t.rule is None or t.rule["id"] in matched_ids for t in decision.targets)
    assert all(r.is_active for r in rules if r.id in matched_ids)
