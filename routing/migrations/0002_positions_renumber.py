"""Positions 1..n in the current evaluation order (position, then id), before 0003 makes them unique."""

from django.db import migrations


def positions_renumber(apps, schema_editor):
    RoutingRule = apps.get_model("routing", "RoutingRule")
    for index, rule in enumerate(RoutingRule.objects.order_by("position", "id"), start=1):
        if rule.position != index:
            RoutingRule.objects.filter(pk=rule.pk).update(position=index)


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]

    operations = [migrations.RunPython(positions_renumber, migrations.RunPython.noop)]
