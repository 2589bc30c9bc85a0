from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators watch: health, alerts, the admin overview and its rollups, the legacy history read, and
    retention."""

    name = "ops"

    def ready(self) -> None:
        from ops.alerting import watcher
        from ops.housekeeping import housekeeper
        from webhooks.signals import worker_tick

        worker_tick.connect(watcher.on_tick, dispatch_uid="ops.alerts")
        worker_tick.connect(housekeeper.on_tick, dispatch_uid="ops.housekeeping")
