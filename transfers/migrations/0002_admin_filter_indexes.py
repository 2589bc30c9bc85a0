from django.db import migrations, models

TABLE = "transfers_linkpair"
REPLACED = ("provider", "status")  # their single-column indexes give way to (column, created_at)


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
    # A plain DROP INDEX: AlterField(db_index=False) would rebuild the whole table on SQLite.
    for column in REPLACED:
        for name in _single_column_indexes(schema_editor, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def single_indexes_create(apps, schema_editor):
    for column in REPLACED:
        if not _single_column_indexes(schema_editor, column):
            name = schema_editor.quote_name(f"{TABLE}_{column}_single")
            schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} ({schema_editor.quote_name(column)})")


class Migration(migrations.Migration):
    """Admin's filters served in creation order (docs/admin.md, "Large lists")."""

    dependencies = [
        ("transfers", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(name="linkpair", options={"ordering": ["-created_at", "-id"]}),
        migrations.AddIndex(
            model_name="linkpair",
            index=models.Index(fields=["provider", "created_at"], name="linkpair_provider_created_idx"),
        ),
        migrations.AddIndex(
            model_name="linkpair",
            index=models.Index(fields=["status", "created_at"], name="linkpair_status_created_idx"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="linkpair", name="provider", field=models.CharField(max_length=20)),
                migrations.AlterField(
                    model_name="linkpair",
                    name="status",
                    field=models.CharField(
                        choices=[("pending", "Pending"), ("stored", "Stored"), ("failed", "Failed")],
                        default="pending",
                        max_length=10,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(single_indexes_drop, single_indexes_create)],
        ),
    ]
