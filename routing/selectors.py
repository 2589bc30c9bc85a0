from routing.evaluation import CompiledCondition, CompiledRule, RoutableEmail, RoutingExplanation, rules_explain
from routing.models import RoutingRule
from webhooks.models import WebhookEndpoint


def rules_compiled(*, include_inactive: bool = False) -> tuple[CompiledRule, ...]:
    """Rules in position order, ready for evaluation (two queries). Ingress caches the active ones.

    A rule whose endpoint is inactive is kept: it still matches, stops and adds its endpoint, whose
    delivery waits paused; deactivating an endpoint never re-routes its e-mails to the default endpoint.
    """
    rules = RoutingRule.objects.select_related("endpoint").prefetch_related("conditions").order_by("position")
    if not include_inactive:
        rules = rules.filter(is_active=True)
    return tuple(
        CompiledRule(
            id=rule.pk,
            name=rule.name,
            match=rule.match,
            endpoint_id=rule.endpoint_id,
            priority=rule.priority,
            stop_processing=rule.stop_processing,
            conditions=tuple(
                CompiledCondition.build(c.field, c.operator, c.value, c.case_sensitive, c.header_name)
                for c in rule.conditions.all()
            ),
            position=rule.position,
            is_active=rule.is_active,
            endpoint_active=rule.endpoint is None or rule.endpoint.is_active,
            endpoint_name=rule.endpoint.name if rule.endpoint else "",
        )
        for rule in rules
    )


def default_endpoint_get() -> WebhookEndpoint | None:
    """The default endpoint, active or not (an inactive one still receives deliveries, paused)."""
    return WebhookEndpoint.objects.filter(is_default=True).first()


def rules_preview(email: RoutableEmail) -> RoutingExplanation:
    """What ingress would decide for this e-mail right now, rule by rule (the admin test page)."""
    default = default_endpoint_get()
    return rules_explain(rules_compiled(include_inactive=True), email, default.pk if default else None)


def endpoint_names() -> dict[int, str]:
    return dict(WebhookEndpoint.objects.values_list("id", "name"))


def endpoints_inactive() -> set[int]:
    return set(WebhookEndpoint.objects.filter(is_active=False).values_list("id", flat=True))
