"""Ordering and bulk changes: positions stay unique and contiguous, ingress sees every change at once."""

import pytest

from configuration.snapshot import ingress_config_get
from routing.models import RoutingCondition, RoutingRule
from routing.services import (
    rule_delete,
    rule_duplicate,
    rule_move,
    rule_move_to,
    rule_save,
    rules_activate,
    rules_deactivate,
    rules_delete,
    rules_renumber,
    rules_reorder,
)
from tests.factories import endpoint_create

pytestmark = pytest.mark.django_db


def make_rules(*names, **fields):
    rules = []
    for name in names:
        rule = RoutingRule.objects.create(name=name, stop_processing=True, **fields)
        RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value=name)
        rules.append(rule)
    return rules


def order() -> list[tuple[int, str]]:
    return list(RoutingRule.objects.order_by("position").values_list("position", "name"))


def names() -> list[str]:
    return [name for _, name in order()]


@pytest.mark.parametrize(
    ("name", "direction", "expected"),
    [
        ("c", "up", ["a", "c", "b", "d"]),
        ("b", "down", ["a", "c", "b", "d"]),
        ("c", "top", ["c", "a", "b", "d"]),
        ("b", "bottom", ["a", "c", "d", "b"]),
        ("a", "up", ["a", "b", "c", "d"]),
        ("d", "down", ["a", "b", "c", "d"]),
    ],
)
def test_move_keeps_positions_contiguous(name, direction, expected):
    make_rules("a", "b", "c", "d")
    rule_move(RoutingRule.objects.get(name=name), direction)
    assert order() == list(enumerate(expected, start=1))


def test_move_rejects_an_unknown_direction():
    (rule,) = make_rules("a")
    with pytest.raises(ValueError, match="Unknown direction"):
        rule_move(rule, "sideways")


def test_move_to_clamps_to_the_list():
    a, b, c = make_rules("a", "b", "c")
    assert rule_move_to(a, 99) == 3
    assert rule_move_to(a, 0) == 1
    assert names() == ["a", "b", "c"]


def test_reorder_all_rules():
    a, b, c = make_rules("a", "b", "c")
    rules_reorder([c.pk, a.pk, b.pk])
    assert order() == [(1, "c"), (2, "a"), (3, "b")]


def test_reorder_a_filtered_subset_keeps_the_other_rules_in_place():
    a, b, c, d = make_rules("a", "b", "c", "d")
    rules_reorder([d.pk, b.pk])
    assert names() == ["a", "d", "c", "b"]


@pytest.mark.parametrize("bad", ["duplicate", "unknown"])
def test_reorder_refuses_duplicate_or_unknown_ids(bad):
    a, b = make_rules("a", "b")
    ids = [a.pk, a.pk] if bad == "duplicate" else [a.pk, 9999]
    with pytest.raises(ValueError):
        rules_reorder(ids)
    assert names() == ["a", "b"]


def test_deleting_rules_closes_the_gaps():
    a, b, c, d = make_rules("a", "b", "c", "d")
    rule_delete(b)
    assert order() == [(1, "a"), (2, "c"), (3, "d")]
    rules_delete(RoutingRule.objects.filter(name__in=["a", "d"]))
    assert order() == [(1, "c")]


def test_renumber_closes_gaps_left_by_direct_deletes():
    make_rules("a", "b", "c")
    RoutingRule.objects.filter(name="a").delete()
    rules_renumber()
    assert order() == [(1, "b"), (2, "c")]


def test_rule_save_places_a_new_rule_at_the_position_asked():
    make_rules("a", "b")
    rule = rule_save(RoutingRule(name="new", stop_processing=True), position=1)
    assert rule.position == 1
    assert names() == ["new", "a", "b"]


def test_rule_save_without_position_appends():
    make_rules("a")
    assert rule_save(RoutingRule(name="new", stop_processing=True)).position == 2


def test_duplicate_is_an_inactive_copy_right_after_the_original():
    a, b = make_rules("a", "b")
    copy = rule_duplicate(a)
    assert names() == ["a", "a (copy)", "b"]
    assert copy.is_active is False
    assert list(copy.conditions.values_list("field", "operator", "value")) == [("subject", "contains", "a")]


def test_activate_refuses_rules_without_conditions():
    ready = make_rules("ready", is_active=False)[0]
    empty = RoutingRule.objects.create(name="empty", stop_processing=True, is_active=False)
    count, refused = rules_activate(RoutingRule.objects.all())
    assert count == 1
    assert refused == [empty]
    ready.refresh_from_db()
    assert ready.is_active


def test_deactivate():
    make_rules("a", "b")
    assert rules_deactivate(RoutingRule.objects.filter(name="a")) == 1
    assert list(RoutingRule.objects.filter(is_active=True).values_list("name", flat=True)) == ["b"]


# Each change below is a bulk update (no signal): ingress must still see it on its next read.
def cached_rule_names() -> list[str]:
    return [r.name for r in ingress_config_get().rules]


def test_moving_a_rule_reaches_the_cached_ingress_configuration():
    a, b = make_rules("a", "b")
    assert cached_rule_names() == ["a", "b"]
    rule_move(b, "up")
    assert cached_rule_names() == ["b", "a"]


def test_reordering_reaches_the_cached_ingress_configuration():
    a, b = make_rules("a", "b")
    assert cached_rule_names() == ["a", "b"]
    rules_reorder([b.pk, a.pk])
    assert cached_rule_names() == ["b", "a"]


def test_deactivating_reaches_the_cached_ingress_configuration():
    make_rules("a", "b")
    assert cached_rule_names() == ["a", "b"]
    rules_deactivate(RoutingRule.objects.filter(name="a"))
    assert cached_rule_names() == ["b"]


def test_deactivating_an_endpoint_reaches_the_cached_rules():
    billing = endpoint_create(name="billing")
    make_rules("a", endpoint=billing)
    assert ingress_config_get().rules[0].endpoint_active is True
    billing.is_active = False
    billing.save()
    assert ingress_config_get().rules[0].endpoint_active is False
