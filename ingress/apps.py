from django.apps import AppConfig


class IngressConfig(AppConfig):
    name = "ingress"
    verbose_name = "Ingress"

    def ready(self) -> None:
        from ingress.signals import config_signals_connect

        config_signals_connect()
