"""The retry schedule gets a singleton of its own in webhooks (delivery policy); the rest of the old
webhook settings are ingress policy and move to the configuration app."""

from django.db import migrations, models

import webhooks.models
import webhooks.validators


def schedule_copy(apps, schema_editor):
    Old = apps.get_model("webhooks", "WebhookSettings")
    New = apps.get_model("webhooks", "DeliverySettings")
    old = Old.objects.filter(pk=1).first()
    if old is not None:
        New.objects.update_or_create(pk=1, defaults={"retry_schedule_seconds": old.retry_schedule_seconds})


def schedule_copy_back(apps, schema_editor):
    Old = apps.get_model("webhooks", "WebhookSettings")
    New = apps.get_model("webhooks", "DeliverySettings")
    new = New.objects.filter(pk=1).first()
    if new is not None:
        Old.objects.filter(pk=1).update(retry_schedule_seconds=new.retry_schedule_seconds)


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0005_delivery_lanes")]

    operations = [
        migrations.CreateModel(
            name="DeliverySettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "retry_schedule_seconds",
                    models.JSONField(
                        default=webhooks.models.default_retry_schedule,
                        help_text=(
                            "Delay before each attempt in seconds, counted from the previous attempt (±20 % jitter); "
                            "the first is 0 (send at once) and the length is the number of attempts. Default: 0, 5 s, "
                            "5 min, 30 min, 2 h, 5 h, 10 h, 10 h."
                        ),
                        validators=[webhooks.validators.retry_schedule_validate],
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"verbose_name": "delivery settings", "verbose_name_plural": "delivery settings"},
        ),
        migrations.RunPython(schedule_copy, schedule_copy_back),
    ]
