from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators watch: health, the admin overview, the legacy history read, and retention."""

    name = "ops"
