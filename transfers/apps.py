from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self):
        from django.test.signals import setting_changed

        from transfers.storage import s3_client_reset

        # Settings overridden at runtime (tests) rebuild the bucket client on next use.
        setting_changed.connect(s3_client_reset, dispatch_uid="transfers.s3_client_reset")
