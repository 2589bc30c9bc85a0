"""What makes the configuration snapshot stale: saves and deletes of the models it is built from, and
the bulk changes lower apps announce with core.signals.configuration_changed."""

from django.db.models.signals import post_delete, post_save

from configuration.models import IngressSettings, RuntimeFlags
from configuration.snapshot import config_changed
from core.signals import configuration_changed
from routing.models import RoutingCondition, RoutingRule
from webhooks.models import WebhookEndpoint


def _changed(sender, **kwargs) -> None:
    config_changed()


def invalidation_connect() -> None:
    for model in (RuntimeFlags, IngressSettings, WebhookEndpoint, RoutingRule, RoutingCondition):
        post_save.connect(_changed, sender=model, dispatch_uid=f"config-changed-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"config-changed-delete-{model.__name__}")
    configuration_changed.connect(_changed, dispatch_uid="config-changed-announced")
