"""The worker heartbeat belongs to webhooks now (the delivery worker writes it); webhooks 0008 took the table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("signal_server", "0002_worker_heartbeat_for_delivery_workers"), ("webhooks", "0008_worker_heartbeat")]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="WorkerHeartbeat")])]
