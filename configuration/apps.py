from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    """Owner of the configuration: the settings singletons, the snapshot ingress reads and its invalidation,
    the config document and the legacy import."""

    name = "configuration"

    def ready(self) -> None:
        from configuration.signals import invalidation_connect

        invalidation_connect()
