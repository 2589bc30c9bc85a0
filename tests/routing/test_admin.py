"""The routing rules admin through the Django test client: editing, validation, ordering, the test page."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ingress.models import InboundEmail
from routing.forms import ACTIVE_RULE_NEEDS_A_CONDITION
from routing.models import RoutingCondition, RoutingRule
from routing.services import rule_move_to
from tests.factories import endpoint_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:routing_routingrule_changelist")
ADD = reverse("admin:routing_routingrule_add")
TEST_PAGE = reverse("admin:ingress_rules_test")
REORDER = reverse("admin:routing_routingrule_reorder")


def change_url(rule):
    return reverse("admin:routing_routingrule_change", args=[rule.pk])


def move_url(rule, direction):
    return reverse("admin:routing_routingrule_move", args=[rule.pk, direction])


def rule_create(name, *conditions, **fields):
    rule = RoutingRule.objects.create(name=name, **{"stop_processing": True, **fields})
    for field, operator, value in conditions or (("subject", "contains", name),):
        RoutingCondition.objects.create(rule=rule, field=field, operator=operator, value=value)
    return rule


def rule_form(name="Billing", *, conditions=(("subject", "contains", "facture"),), existing=(), **fields) -> dict:
    """POST data of the rule form with its conditions inline (`existing`: ids of the saved conditions)."""
    data = {"name": name, "position": "", "match": "all", "endpoint": "", "priority": "normal"}
    data.update({"is_active": "on", "stop_processing": "on"})
    data.update({k: v for k, v in fields.items() if v is not None})
    for key in [k for k, v in fields.items() if v is None]:
        data.pop(key, None)
    data.update(
        {
            "conditions-TOTAL_FORMS": str(len(conditions)),
            "conditions-INITIAL_FORMS": str(len(existing)),
            "conditions-MIN_NUM_FORMS": "0",
            "conditions-MAX_NUM_FORMS": "1000",
        }
    )
    for index, (field, operator, value, *rest) in enumerate(conditions):
        data.update({f"conditions-{index}-field": field, f"conditions-{index}-operator": operator})
        data[f"conditions-{index}-value"] = value
        if rest and rest[0]:
            data[f"conditions-{index}-case_sensitive"] = "on"
        if index < len(existing):
            data[f"conditions-{index}-id"] = str(existing[index])
    return data


def positions() -> list[tuple[int, str]]:
    return list(RoutingRule.objects.order_by("position").values_list("position", "name"))


# --- pages render ----------------------------------------------------------------------------------------
def test_rule_list_renders_with_its_test_rules_link(admin_client):
    rule_create("Billing")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert TEST_PAGE.encode() in response.content
    assert b"routing/rule_order.js" in response.content


@pytest.mark.parametrize("url", [ADD, TEST_PAGE])
def test_add_and_test_pages_render(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_change_page_renders_with_its_conditions(admin_client):
    rule = rule_create("Billing", ("subject", "contains", "facture"))
    response = admin_client.get(change_url(rule))
    assert response.status_code == 200
    assert b'value="facture"' in response.content


def test_static_files_of_the_admin_exist(client):
    for path in ("/static/routing/rules.css", "/static/routing/rule_order.js", "/static/routing/conditions.js"):
        response = client.get(path)
        assert response.status_code == 200
        assert b"".join(response.streaming_content)


def test_list_filters_render(admin_client):
    billing = endpoint_create(name="billing")
    rule_create("Billing", endpoint=billing)
    assert admin_client.get(CHANGELIST, {"is_active__exact": "1"}).status_code == 200
    response = admin_client.get(CHANGELIST, {"endpoint__id__exact": billing.pk})
    assert response.status_code == 200
    assert b"Billing" in response.content


# --- the list -------------------------------------------------------------------------------------------------
def test_list_shows_position_and_a_one_line_condition_summary(admin_client):
    rule_create("Billing", ("subject", "contains", "facture"), ("sender", "equals", "a@b.fr"))
    content = admin_client.get(CHANGELIST).content.decode()
    assert "subject contains &quot;facture&quot; AND sender equals &quot;a@b.fr&quot;" in content
    assert '<td class="field-position">1</td>' in content


def test_list_warns_about_an_inactive_endpoint_and_a_rule_without_conditions(admin_client):
    rule_create("Paused", endpoint=endpoint_create(name="paused", is_active=False))
    RoutingRule.objects.create(name="Draft", stop_processing=True, is_active=False)
    content = admin_client.get(CHANGELIST).content.decode()
    assert "⚠ paused (inactive)" in content
    assert "⚠ no conditions: never matches" in content


def test_list_query_count_does_not_grow_with_the_number_of_rules(admin_client):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(queries)

    for i in range(3):
        rule_create(f"r{i}", ("subject", "contains", "a"), ("body", "contains", "b"), endpoint=endpoint_create())
    few = list_queries()
    for i in range(3, 30):
        rule_create(f"r{i}", ("subject", "contains", "a"), ("body", "contains", "b"), endpoint=endpoint_create())
    assert list_queries() == few


# --- adding and editing ------------------------------------------------------------------------------------
def test_staff_adds_a_stop_rule_with_its_conditions(admin_client):
    billing = endpoint_create(name="billing")
    response = admin_client.post(ADD, rule_form("Billing", endpoint=billing.pk))
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.name, rule.endpoint, rule.stop_processing, rule.position) == ("Billing", billing, True, 1)
    assert [str(c) for c in rule.conditions.all()] == ['subject contains "facture"']


def test_staff_adds_a_rule_on_what_the_email_is(admin_client):
    form = rule_form(
        "Recadrage, urgent or for Paris",
        match="any",
        conditions=[
            ("detector", "in", "Recadrage, none"),
            ("is_urgent", "is_true", ""),
            ("link_count", "gt", "1"),
            ("recipient", "contains", "+paris@"),
            ("header", "regex", r"news\.acme\.fr"),
        ],
    )
    form["conditions-4-header_name"] = "List-Id"
    response = admin_client.post(ADD, form)
    assert response.status_code == 302
    assert [str(c) for c in RoutingRule.objects.get().conditions.all()] == [
        'detector is one of "recadrage, none"',
        "is_urgent is true",
        "link_count > 1",
        'recipient contains "+paris@"',
        'header "list-id" matches regex "news\\.acme\\.fr"',
    ]


def test_the_condition_form_tells_the_script_which_operators_go_with_which_field(admin_client):
    content = admin_client.get(ADD).content.decode()
    assert "routing/conditions.js" in content
    assert "data-operators" in content and "&quot;link_count&quot;: [&quot;equals&quot;, &quot;gt&quot;" in content


def test_a_new_rule_can_be_placed_at_a_position(admin_client):
    rule_create("a")
    rule_create("b")
    admin_client.post(ADD, rule_form("first", position="1"))
    assert positions() == [(1, "first"), (2, "a"), (3, "b")]


def test_changing_the_position_field_moves_the_rule(admin_client):
    rule_create("a")
    rule_create("b")
    c = rule_create("c")
    data = rule_form("c", position="1", conditions=[("subject", "contains", "c")], existing=[c.conditions.get().pk])
    assert admin_client.post(change_url(c), data).status_code == 302
    assert positions() == [(1, "c"), (2, "a"), (3, "b")]


def test_saving_an_untouched_form_does_not_undo_a_move_made_meanwhile(admin_client):
    rule_create("a")
    b = rule_create("b")
    shown = {"position": "2", "initial-position": "2"}  # as rendered before someone moved the rule
    rule_move_to(b, 1)
    data = rule_form("b renamed", conditions=[("subject", "contains", "b")], existing=[b.conditions.get().pk], **shown)
    assert admin_client.post(change_url(b), data).status_code == 302
    assert positions() == [(1, "b renamed"), (2, "a")]


def test_change_form_shows_the_current_position(admin_client):
    rule_create("a")
    b = rule_create("b")
    assert b'name="position" value="2"' in admin_client.get(change_url(b)).content


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (("subject", "regex", "facture("), "This regular expression does not compile"),
        (("subject", "regex", "a" * 201), "limited to 200 characters"),
        (("body", "regex", r"(a+)+$"), "This regular expression is too slow"),
        (("subject", "contains", "   "), "Enter a value to compare with"),
        (("detector", "gt", "1"), "Operator &#x27;gt&#x27; does not apply to detector"),
        (("link_count", "gt", "deux"), "Enter a whole number of links"),
        (("detector", "equals", "recadrge"), "Unknown detector &#x27;recadrge&#x27;"),
        (("header", "regex", "acme"), "Name the header to test"),
        (("recipient", "regex", r"(a+)+$"), "This regular expression is too slow"),
    ],
)
def test_invalid_condition_is_shown_and_nothing_is_saved(admin_client, condition, message):
    response = admin_client.post(ADD, rule_form(conditions=[condition]))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_active_rule_without_conditions_is_refused(admin_client):
    response = admin_client.post(ADD, rule_form(conditions=[]))
    assert response.status_code == 200
    assert ACTIVE_RULE_NEEDS_A_CONDITION in response.content.decode().replace("&#x27;", "'")
    assert not RoutingRule.objects.exists()


def test_inactive_draft_without_conditions_is_saved(admin_client):
    assert admin_client.post(ADD, rule_form("Draft", conditions=[], is_active=None)).status_code == 302
    assert RoutingRule.objects.get().is_active is False


def test_deleting_the_last_condition_of_an_active_rule_is_refused(admin_client):
    rule = rule_create("Billing")
    data = rule_form("Billing", conditions=[("subject", "contains", "Billing")], existing=[rule.conditions.get().pk])
    data["conditions-0-DELETE"] = "on"
    response = admin_client.post(change_url(rule), data)
    assert ACTIVE_RULE_NEEDS_A_CONDITION in response.content.decode().replace("&#x27;", "'")
    assert rule.conditions.count() == 1


def test_rule_with_neither_endpoint_nor_stop_is_refused(admin_client):
    response = admin_client.post(ADD, rule_form(stop_processing=None))
    assert "a rule with neither has no effect" in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_saving_a_rule_for_an_inactive_endpoint_warns(admin_client):
    paused = endpoint_create(name="paused", is_active=False)
    response = admin_client.post(ADD, rule_form(endpoint=paused.pk), follow=True)
    assert "Endpoint “paused” is inactive" in response.content.decode()


# --- ordering ----------------------------------------------------------------------------------------------
def test_move_up_and_down_buttons_reorder_rules(admin_client):
    a, _, c = rule_create("a"), rule_create("b"), rule_create("c")
    assert admin_client.post(move_url(c, "up")).status_code == 302
    assert positions() == [(1, "a"), (2, "c"), (3, "b")]
    admin_client.post(move_url(a, "down"))
    assert positions() == [(1, "c"), (2, "a"), (3, "b")]


def test_move_returns_to_the_filtered_list_it_came_from(admin_client):
    _, b = rule_create("a"), rule_create("b")
    filtered = f"http://testserver{CHANGELIST}?is_active__exact=1"
    response = admin_client.post(move_url(b, "up"), headers={"referer": filtered})
    assert response["Location"] == filtered


def test_move_ignores_a_foreign_referer(admin_client):
    b = rule_create("b")
    response = admin_client.post(move_url(b, "up"), headers={"referer": "https://evil.example/admin/"})
    assert response["Location"] == CHANGELIST


def test_move_is_post_only(admin_client):
    rule = rule_create("a")
    assert admin_client.get(move_url(rule, "down")).status_code == 405


def test_move_requires_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    _, b = rule_create("a"), rule_create("b")
    assert client.post(move_url(b, "up")).status_code == 403
    assert positions() == [(1, "a"), (2, "b")]


def test_move_with_an_unknown_direction_is_404(admin_client):
    assert admin_client.post(move_url(rule_create("a"), "sideways")).status_code == 404


def test_move_needs_the_change_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_routingrule"))
    client.force_login(viewer)
    _, b = rule_create("a"), rule_create("b")
    assert client.post(move_url(b, "up")).status_code == 403
    assert b"rule-move" not in client.get(CHANGELIST).content


def test_list_buttons_post_the_changelist_form_with_its_csrf_token_to_the_move_url(admin_client):
    rule = rule_create("a")
    content = admin_client.get(CHANGELIST).content.decode()
    assert f'formaction="{move_url(rule, "up")}" formmethod="post"' in content
    assert content.index('id="changelist-form"') < content.index(move_url(rule, "up"))


def test_drag_and_drop_order_is_saved(admin_client):
    a, b, c = rule_create("a"), rule_create("b"), rule_create("c")
    response = admin_client.post(REORDER, {"ids": [c.pk, a.pk, b.pk]})
    assert response.json() == {"success": True}
    assert positions() == [(1, "c"), (2, "a"), (3, "b")]


def test_drag_and_drop_with_an_unknown_rule_is_a_400_json_error(admin_client):
    a = rule_create("a")
    response = admin_client.post(REORDER, {"ids": [a.pk, 999]})
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Unknown rule ids: 999."}


def test_deleting_from_the_list_keeps_positions_contiguous(admin_client):
    _, b, _ = rule_create("a"), rule_create("b"), rule_create("c")
    data = {"action": "delete_selected", "_selected_action": [b.pk], "post": "yes"}
    assert admin_client.post(CHANGELIST, data).status_code == 302
    assert positions() == [(1, "a"), (2, "c")]


def test_activate_action_reports_rules_it_cannot_activate(admin_client):
    RoutingRule.objects.create(name="Empty draft", stop_processing=True, is_active=False)
    response = admin_client.post(
        CHANGELIST, {"action": "activate_rules", "_selected_action": [RoutingRule.objects.get().pk]}, follow=True
    )
    assert "Not activated: “Empty draft”" in response.content.decode()
    assert RoutingRule.objects.get().is_active is False


def test_duplicate_action_places_an_inactive_copy_after_the_original(admin_client):
    a, _ = rule_create("a"), rule_create("b")
    admin_client.post(CHANGELIST, {"action": "duplicate_rules", "_selected_action": [a.pk]})
    assert positions() == [(1, "a"), (2, "a (copy)"), (3, "b")]


# --- the test page ------------------------------------------------------------------------------------------
def sample(**fields):
    return {
        "email": "",
        "sender": "Jean <jean@client.fr>",
        "subject": "Votre facture",
        "body": "<p>Bonjour</p>",
        **fields,
    }


def test_test_page_shows_verdicts_endpoints_and_the_suppressed_default(admin_client):
    endpoint_create(name="default", is_default=True)
    billing = endpoint_create(name="billing")
    rule_create("Devis", ("subject", "contains", "devis"), endpoint=endpoint_create(name="quotes"))
    rule_create("Billing", ("subject", "contains", "facture"), endpoint=billing)
    rule_create("Never reached", ("subject", "contains", "facture"), endpoint=endpoint_create(name="archive"))
    response = admin_client.post(TEST_PAGE, sample())
    content = response.content.decode()
    explained = response.context["explanation"].rules
    assert [(r.rule.name, r.state) for r in explained] == [
        ("Devis", "no_match"),
        ("Billing", "matched"),
        ("Never reached", "not_reached"),
    ]
    assert "evaluation stopped here" in content
    assert "Delivered to 1 endpoint" in content
    assert "<strong>billing</strong>" in content
    assert "suppressed by the stop of rule “Billing”" in content
    assert "✔" in content and "✘" in content


def test_test_page_shows_a_drop_and_greys_inactive_rules(admin_client):
    endpoint_create(name="default", is_default=True)
    rule_create("Old", ("subject", "contains", "facture"), is_active=False)
    rule_create("Drop", ("subject", "contains", "facture"))
    response = admin_client.post(TEST_PAGE, sample())
    content = response.content.decode()
    assert "stopped_by_routing_rule" in content
    assert "rule-state-inactive" in content
    assert "Inactive (would match)" in content


def test_test_page_adds_the_default_when_no_rule_stops(admin_client):
    endpoint_create(name="default", is_default=True)
    rule_create(
        "Billing", ("subject", "contains", "facture"), endpoint=endpoint_create(name="billing"), stop_processing=False
    )
    content = admin_client.post(TEST_PAGE, sample()).content.decode()
    assert "Delivered to 2 endpoints" in content
    assert "added (no stop rule matched)" in content


def test_test_page_body_conditions_see_the_text_view_of_pasted_html(admin_client):
    rule_create("Tarifs", ("body", "contains", "tarifs habituels"))
    response = admin_client.post(TEST_PAGE, sample(body="<p>aux <b>tarifs</b>&nbsp;habituels</p>"))
    assert response.context["explanation"].rules[0].state == "matched"
    assert "aux tarifs habituels" in response.content.decode()


def test_test_page_runs_on_a_picked_recent_email_and_fills_the_form_with_it(admin_client):
    rule_create("Billing", ("subject", "contains", "facture"))
    email = InboundEmail.objects.create(
        email_id="e" * 32, sender="Compta <compta@client.fr>", sender_email="compta@client.fr",
        subject="Facture 42", body="<p>Montant</p>", status="processed",
    )
    response = admin_client.post(TEST_PAGE, sample(email=str(email.pk), subject="ignored"))
    assert response.context["explanation"].rules[0].state == "matched"
    assert response.context["form"]["subject"].value() == "Facture 42"
    assert "Facture 42" in response.content.decode()


def test_test_page_can_be_opened_on_a_recorded_email(admin_client):
    rule_create("Billing", ("subject", "contains", "facture"))
    email = InboundEmail.objects.create(
        email_id="f" * 32, sender="a@b.fr", sender_email="a@b.fr", subject="Facture", body="x", status="processed"
    )
    response = admin_client.get(TEST_PAGE, {"email": email.pk})
    assert response.context["explanation"].rules[0].state == "matched"


RECADRAGE_SUBJECT = "Média Solution - Missions Recadrage - Lot 107"
RECADRAGE_BODY = '<p>À faire pour 14h30</p><a href="https://www.dropbox.com/scl/fo/abc/def?rlkey=x&amp;dl=0">Fichiers</a>'


def test_test_page_finds_the_detector_and_links_in_a_pasted_body_as_ingress_does(admin_client):
    rule_create("Recadrage", ("detector", "equals", "recadrage"), ("provider", "equals", "dropbox"))
    rule_create("One link", ("link_count", "equals", "1"), ("is_urgent", "is_false", ""), stop_processing=False)
    response = admin_client.post(TEST_PAGE, sample(subject=RECADRAGE_SUBJECT, body=RECADRAGE_BODY))
    explained = response.context["explanation"].rules
    assert [(r.state, r.matched) for r in explained] == [("matched", True), ("not_reached", True)]
    facts = response.content.decode().split('id="rules-facts"')[1].split("</table>")[0]
    assert "<td>recadrage</td>" in facts and "<td>dropbox</td>" in facts and "<td>1</td>" in facts


def test_test_page_takes_the_facts_the_tester_sets_and_shows_each_verdict(admin_client):
    facts = [
        ("detector", "equals", "desabonnement_journee_tarifs"),
        ("is_urgent", "is_true", ""),
        ("provider", "in", "wetransfer"),
        ("link_count", "gt", "1"),
        ("recipient", "equals", "missions+paris@acme.fr"),
        ("header", "regex", r"^<news\.acme\.fr>$"),
    ]
    rule = rule_create("Facts", *facts, stop_processing=False, endpoint=endpoint_create(name="facts"))
    RoutingCondition.objects.filter(rule=rule, field="header").update(header_name="list-id")
    response = admin_client.post(
        TEST_PAGE,
        sample(
            detector="desabonnement_journee_tarifs",
            is_urgent="yes",
            links="https://wetransfer.com/downloads/abc/def\nhttps://www.dropbox.com/s/xyz/f.zip",
            recipients="Missions <Missions+Paris@acme.fr>, equipe@acme.fr",
            headers="List-Id: <news.acme.fr>",
        ),
    )
    verdicts = response.context["explanation"].rules[0].conditions
    assert [v.matched for v in verdicts] == [True] * len(facts)
    content = response.content.decode()
    assert "header &quot;list-id&quot; matches regex" in content
    assert "missions+paris@acme.fr, equipe@acme.fr" in content


def test_test_page_refuses_a_header_line_it_cannot_read(admin_client):
    response = admin_client.post(TEST_PAGE, sample(headers="List-Id <news.acme.fr>"))
    assert "Line 1: write each header as Name: value" in response.content.decode()
    assert response.context["explanation"] is None


def test_test_page_on_a_recorded_email_uses_the_recipients_and_headers_its_script_sent(admin_client):
    rule_create("Paris", ("recipient", "contains", "+paris@"))
    email = InboundEmail.objects.create(
        email_id="d" * 32, sender="a@b.fr", sender_email="a@b.fr", subject="Lot", body="x", status="processed",
        recipients={"to": ["equipe@acme.fr"], "reply_to": ["r@acme.fr"], "delivered_to": ["missions+paris@acme.fr"]},
        headers={"list-id": "<news.acme.fr>"},
    )
    response = admin_client.get(TEST_PAGE, {"email": email.pk})
    assert response.context["explanation"].rules[0].state == "matched"
    assert response.context["form"]["recipients"].value() == "equipe@acme.fr\nmissions+paris@acme.fr"
    assert response.context["form"]["headers"].value() == "list-id: <news.acme.fr>"


def test_test_page_asks_for_a_sample(admin_client):
    response = admin_client.post(TEST_PAGE, {"email": "", "sender": "", "subject": "", "body": ""})
    assert "Paste a sample e-mail" in response.content.decode()
    assert response.context["explanation"] is None


def test_test_page_is_for_staff_only(client, django_user_model):
    assert client.get(TEST_PAGE).status_code == 302
    client.force_login(django_user_model.objects.create_user("joe", password="x"))
    assert client.get(TEST_PAGE).status_code == 302


def test_test_page_needs_permission_to_view_rules(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    assert client.get(TEST_PAGE).status_code == 403


@pytest.mark.parametrize(
    ("codenames", "status"),
    [(["view_routingrule"], 403), (["view_inboundemail"], 403), (["view_routingrule", "view_inboundemail"], 200)],
)
def test_the_test_page_needs_to_view_both_rules_and_emails(client, django_user_model, codenames, status):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(viewer)

    assert client.get(TEST_PAGE).status_code == status
