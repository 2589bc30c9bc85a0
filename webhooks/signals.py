"""Signals the delivery workers send, for higher apps to listen to (webhooks imports none of them).

`worker_tick` goes out from a worker's loop thread every few seconds (kwargs: `worker_id`). The ops
app evaluates its alert rules on it, so alerts are raised and resolved by the workers and the web
request path does no extra work. A receiver runs in the loop thread: it must be quick, and leave
network calls to a thread of its own.
"""

from django.dispatch import Signal

worker_tick = Signal()
