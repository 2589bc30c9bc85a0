"""The runtime flags belong to the configuration app now (its 0001 migration renamed the table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ingress", "0002_fewer_indexes_per_push"), ("configuration", "0001_initial")]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="RuntimeFlags")])]
