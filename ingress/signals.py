from django.db.models.signals import post_delete, post_save

from ingress.selectors import ingress_config_invalidate


def config_changed(sender, **kwargs) -> None:
    ingress_config_invalidate()


def config_signals_connect() -> None:
    from ingress.models import RuntimeFlags
    from routing.models import RoutingCondition, RoutingRule
    from webhooks.models import WebhookEndpoint, WebhookSettings

    for model in (RuntimeFlags, WebhookSettings, WebhookEndpoint, RoutingRule, RoutingCondition):
        post_save.connect(config_changed, sender=model, dispatch_uid=f"config-changed-save-{model.__name__}")
        post_delete.connect(config_changed, sender=model, dispatch_uid=f"config-changed-delete-{model.__name__}")
