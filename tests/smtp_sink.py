"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the alert tests: it keeps every message it accepts, or, while
`refusing`, answers each one with a permanent failure, as a mail server that rejects the sender would."""

import email
import email.policy
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from tests.service import free_port


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    text: str
    at: float

    def holds(self, fragments) -> bool:
        return all(fragment in f"{self.subject}\n{self.text}" for fragment in fragments)


class SmtpSink:
    def __init__(self):
        self.mails: list[Mail] = []
        self.refusing = False
        self._arrived = threading.Condition()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        if self.refusing:
            return "554 5.7.1 Message refused"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        mail = Mail(
            envelope.mail_from, list(envelope.rcpt_tos), str(message["Subject"]),
            message.get_body(preferencelist=("plain",)).get_content(), time.time(),
        )
        with self._arrived:
            self.mails.append(mail)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, *fragments: str, since: float = 0.0, timeout: float = 20.0) -> list[Mail]:
        """The mails received after `since` whose subject and text hold every fragment, once there is one (or the
        timeout passed)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [m for m in self.mails if m.at >= since and m.holds(fragments)]
                if found or time.monotonic() >= deadline:
                    return found
                self._arrived.wait(timeout=max(0.01, deadline - time.monotonic()))
