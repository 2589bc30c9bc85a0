"""Signals lower apps send and higher ones listen to, so that imports keep running downward."""

from django.dispatch import Signal

# Sent inside the transaction of a change the configuration snapshot depends on that model signals do
# not announce (bulk updates of endpoints or rules); the configuration app listens.
configuration_changed = Signal()
