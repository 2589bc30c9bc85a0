from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Small shared helpers every other app may use; core imports none of them."""

    name = "core"
