"""Writes to routing rules that keep positions unique and contiguous (1..n) and the ingress cache fresh.

Positions are rewritten in two steps so the unique constraint holds after every row on every
database (PostgreSQL and SQLite check it row by row): the rules that move are first parked above
every position in use, then given their final positions. Bulk updates fire no signals, so each
service drops the ingress configuration snapshot itself.
"""

from django.db import transaction
from django.db.models import Count, F, Max, QuerySet

from core.signals import configuration_changed
from routing.models import RoutingCondition, RoutingRule

DIRECTIONS = ("up", "down", "top", "bottom")


def _ordered_ids_locked() -> list[int]:
    return list(RoutingRule.objects.select_for_update().order_by("position", "id").values_list("id", flat=True))


def _positions_apply(ordered_ids: list[int]) -> None:
    """Give `ordered_ids` positions 1..n, touching only the rules whose position changes."""
    current = dict(RoutingRule.objects.filter(pk__in=ordered_ids).values_list("id", "position"))
    final = {rule_id: index for index, rule_id in enumerate(ordered_ids, start=1)}
    moving = [rule_id for rule_id in ordered_ids if current[rule_id] != final[rule_id]]
    if not moving:
        return
    highest = RoutingRule.objects.aggregate(highest=Max("position"))["highest"] or 0
    RoutingRule.objects.filter(pk__in=moving).update(position=F("position") + max(highest, len(ordered_ids)) + 1)
    RoutingRule.objects.bulk_update([RoutingRule(pk=i, position=final[i]) for i in moving], ["position"])
    configuration_changed.send(sender=RoutingRule)


def rules_renumber() -> None:
    """Close the gaps (after deletions): same order, positions 1..n."""
    with transaction.atomic():
        _positions_apply(_ordered_ids_locked())


def rule_move_to(rule: RoutingRule, position: int) -> int:
    """Put `rule` at `position` (clamped to 1..n), shifting the rules in between; its new position."""
    with transaction.atomic():
        ids = _ordered_ids_locked()
        ids.remove(rule.pk)
        index = min(max(position, 1), len(ids) + 1) - 1
        ids.insert(index, rule.pk)
        _positions_apply(ids)
    rule.position = index + 1
    return rule.position


def rule_move(rule: RoutingRule, direction: str) -> int:
    """One step up or down, or to the top or bottom of the evaluation order; the new position."""
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
    with transaction.atomic():
        ids = _ordered_ids_locked()
        index = ids.index(rule.pk)
        target = {"up": index - 1, "down": index + 1, "top": 0, "bottom": len(ids) - 1}[direction]
        return rule_move_to(rule, target + 1)


def rules_reorder(ids: list[int]) -> None:
    """Put the listed rules in this order within the positions they occupy together.

    The list may be a subset (a filtered admin list): the listed rules swap places among their own
    positions and every other rule keeps its place.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("Each rule may appear only once in the new order.")
    with transaction.atomic():
        order = _ordered_ids_locked()
        unknown = set(ids) - set(order)
        if unknown:
            raise ValueError(f"Unknown rule ids: {', '.join(str(i) for i in sorted(unknown))}.")
        slots = [index for index, rule_id in enumerate(order) if rule_id in set(ids)]
        for slot, rule_id in zip(slots, ids, strict=True):
            order[slot] = rule_id
        _positions_apply(order)


def rule_save(rule: RoutingRule, *, position: int | None = None) -> RoutingRule:
    """Save a validated rule; a new one goes to the end unless `position` places it."""
    with transaction.atomic():
        rule.save()
        if position is not None and position != rule.position:
            rule_move_to(rule, position)
    return rule


def rule_delete(rule: RoutingRule) -> None:
    with transaction.atomic():
        rule.delete()
        rules_renumber()


def rules_delete(queryset: QuerySet) -> int:
    with transaction.atomic():
        count, _ = queryset.delete()
        rules_renumber()
    return count


def rules_activate(queryset: QuerySet) -> tuple[int, list[RoutingRule]]:
    """Activate the rules that can run; return how many and those refused (no condition, no effect)."""
    with transaction.atomic():
        rules = list(queryset.annotate(condition_count=Count("conditions")))
        refused = [r for r in rules if not r.condition_count or (r.endpoint_id is None and not r.stop_processing)]
        ready = [r.pk for r in rules if r not in refused]
        count = RoutingRule.objects.filter(pk__in=ready, is_active=False).update(is_active=True)
        if count:
            configuration_changed.send(sender=RoutingRule)
    return count, refused


def rules_deactivate(queryset: QuerySet) -> int:
    with transaction.atomic():
        count = queryset.filter(is_active=True).update(is_active=False)
        if count:
            configuration_changed.send(sender=RoutingRule)
    return count


def rule_duplicate(rule: RoutingRule) -> RoutingRule:
    """An inactive copy with the same conditions, placed right after the original."""
    with transaction.atomic():
        copy = RoutingRule.objects.create(
            name=f"{rule.name} (copy)"[:100],
            is_active=False,
            match=rule.match,
            endpoint_id=rule.endpoint_id,
            priority=rule.priority,
            stop_processing=rule.stop_processing,
        )
        RoutingCondition.objects.bulk_create(
            [
                RoutingCondition(
                    rule=copy,
                    field=c.field,
                    operator=c.operator,
                    value=c.value,
                    case_sensitive=c.case_sensitive,
                    header_name=c.header_name,
                )
                for c in rule.conditions.all()
            ]
        )
        original_position = RoutingRule.objects.values_list("position", flat=True).get(pk=rule.pk)
        rule_move_to(copy, original_position + 1)
    return copy
