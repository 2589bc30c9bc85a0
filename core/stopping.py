"""Stop requests for the foreground loops (`serve`, `deliveries_sweep --loop`).

SIGINT and SIGTERM only set a flag; the loop finishes what it is doing and stops between passes, so a
stop never interrupts a database write or a child's shutdown sequence.
"""

import signal
import time


class StopRequest:
    """Installs SIGINT/SIGTERM handlers on creation (main thread only)."""

    def __init__(self):
        self.requested = False
        self.signal_name = ""  # SIGTERM or SIGINT, once one arrived
        signal.signal(signal.SIGINT, self._request)
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum, frame) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def sleep(self, seconds: float, step: float = 0.2) -> None:
        """Sleep up to `seconds`, returning within `step` of a stop request."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(step, remaining))
