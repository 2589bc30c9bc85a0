"""The configuration app takes over the settings singletons: the runtime flags (from ingress) and the
ingress settings (the old webhook settings, whose retry schedule stayed in webhooks), their tables
renamed; and a version row that every configuration change bumps."""

from django.db import migrations, models

import configuration.models
import configuration.validators


def version_create(apps, schema_editor):
    apps.get_model("configuration", "ConfigVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("ingress", "0002_fewer_indexes_per_push"),
        ("webhooks", "0006_delivery_settings"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RuntimeFlags",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("ingress_enabled", models.BooleanField(default=True, help_text="Off: pushes answer 409 'Gmail ingress disabled'.")),
                        ("allow_without_links", models.BooleanField(default=False, help_text="Deliver e-mails that carry no provider link (off: they are skipped).")),
                        ("email_id_dedup_enabled", models.BooleanField(default=True, help_text="Answer 'already_processed' to an e-mail seen before.")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={"verbose_name": "runtime flags", "verbose_name_plural": "runtime flags", "db_table": "ingress_runtimeflags"},
                ),
                migrations.CreateModel(
                    name="IngressSettings",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("sending_enabled", models.BooleanField(default=True)),
                        ("time_zone", models.CharField(default=configuration.models.default_time_zone, max_length=64, validators=[configuration.validators.time_zone_validate])),
                        ("window_start", models.CharField(blank=True, help_text="HHhMM or HH:MM; empty with end = no window.", max_length=5)),
                        ("window_end", models.CharField(blank=True, max_length=5)),
                        ("outside_window_policy", models.CharField(choices=[("reject", "Reject (legacy 409 answers)"), ("defer", "Defer (accept, deliver when the window opens)")], default="reject", max_length=10)),
                        ("absence_enabled", models.BooleanField(default=False)),
                        ("absence_days", models.JSONField(blank=True, default=list, help_text='Weekday names, e.g. ["saturday", "sunday"].')),
                        ("retry_schedule_seconds", models.JSONField(default=list)),
                        ("sender_allowlist", models.JSONField(blank=True, default=list, help_text="Lower-case addresses; empty = everyone.")),
                        ("rate_limit_per_sender_per_hour", models.PositiveIntegerField(default=0, help_text="0 = no limit.")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={"verbose_name": "ingress settings", "verbose_name_plural": "ingress settings", "db_table": "webhooks_webhooksettings"},
                ),
            ],
        ),
        migrations.RemoveField(model_name="ingresssettings", name="retry_schedule_seconds"),
        migrations.AlterModelTable(name="runtimeflags", table=None),
        migrations.AlterModelTable(name="ingresssettings", table=None),
        migrations.CreateModel(
            name="ConfigVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(version_create, migrations.RunPython.noop),
    ]
