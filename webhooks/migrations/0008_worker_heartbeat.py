"""The delivery workers' heartbeat moves here from signal_server (whose table this renames)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0007_webhook_settings_to_configuration"), ("signal_server", "0002_worker_heartbeat_for_delivery_workers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WorkerHeartbeat",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("worker_id", models.CharField(max_length=64, unique=True)),
                        ("beat_at", models.DateTimeField(db_index=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("concurrency", models.PositiveSmallIntegerField(default=0, help_text="Deliveries it may send at once.")),
                        ("in_flight", models.PositiveSmallIntegerField(default=0, help_text="Deliveries it was sending at the last beat.")),
                    ],
                    options={"ordering": ["-beat_at"], "db_table": "signal_server_workerheartbeat"},
                ),
            ],
        ),
        migrations.AlterModelTable(name="workerheartbeat", table=None),
    ]
