from routing.evaluation import CompiledCondition, CompiledRule
from routing.models import RoutingRule


def rules_compiled() -> tuple[CompiledRule, ...]:
    """Active rules, in position order, whose endpoint (if any) is active."""
    rules = (
        RoutingRule.objects.filter(is_active=True)
        .exclude(endpoint__is_active=False)
        .prefetch_related("conditions")
        .order_by("position", "id")
    )
    return tuple(
        CompiledRule(
            id=rule.pk,
            name=rule.name,
            match=rule.match,
            endpoint_id=rule.endpoint_id,
            priority=rule.priority,
            stop_processing=rule.stop_processing,
            conditions=tuple(
                CompiledCondition.build(c.field, c.operator, c.value, c.case_sensitive) for c in rule.conditions.all()
            ),
        )
        for rule in rules
    )
