from django.db import migrations, models

TABLE = "ingress_inboundemail"
REPLACED = ("status", "detector")  # their single-column indexes give way to (column, received_at)


def _single_column_indexes(schema_editor, column: str) -> list[str]:
    """The plain indexes on `column` alone (PostgreSQL adds a `_like` twin for a varchar), by introspection."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [
        name for name, info in constraints.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]
    ]


def single_indexes_drop(apps, schema_editor):
    # A plain DROP INDEX: AlterField(db_index=False) would rebuild the whole table on SQLite, holding the
    # writer lock for as long as copying a year of e-mails takes.
    for column in REPLACED:
        for name in _single_column_indexes(schema_editor, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def single_indexes_create(apps, schema_editor):
    for column in REPLACED:
        if not _single_column_indexes(schema_editor, column):
            name = schema_editor.quote_name(f"{TABLE}_{column}_single")
            schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} ({schema_editor.quote_name(column)})")


class Migration(migrations.Migration):
    """Admin's filters and search served in reception order (docs/admin.md, "Large lists")."""

    dependencies = [
        ("ingress", "0006_email_answer_ms"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="inboundemail",
            index=models.Index(fields=["status", "received_at"], name="email_status_received_idx"),
        ),
        migrations.AddIndex(
            model_name="inboundemail",
            index=models.Index(fields=["detector", "received_at"], name="email_detector_received_idx"),
        ),
        migrations.AddIndex(
            model_name="inboundemail",
            index=models.Index(fields=["sender_email", "received_at"], name="email_sender_received_idx"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundemail", name="detector", field=models.CharField(blank=True, max_length=40),
                ),
                migrations.AlterField(
                    model_name="inboundemail",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("processed", "Processed"),
                            ("deferred", "Deferred to the time window"),
                            ("skipped_sender_not_allowed", "Skipped: sender not allowed"),
                            ("skipped_outside_time_window", "Skipped: outside time window"),
                            ("skipped_no_links", "Skipped: no provider link"),
                            ("stopped_by_routing_rule", "Stopped by a routing rule"),
                        ],
                        max_length=32,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(single_indexes_drop, single_indexes_create)],
        ),
    ]
