"""The HTTP transport: SSRF guard on the resolved address, pinned connection, TLS on the name, hard deadline.

DNS is the one thing faked here (a name resolving to loopback); every connection is real.
"""

import socket
import ssl
import threading
import time

import pytest
import trustme

from tests.queue import send_due
from tests.receiver import Answer, Receiver
from webhooks.transport import idle_connections, webhook_post

NAME = "hooks.acme.fr"


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve NAME to the given addresses in turn (the last one repeats); other names resolve normally."""
    real = socket.getaddrinfo
    answers: list[str] = []
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def _set(*addresses: str) -> list[str]:
        answers.extend(addresses)
        return calls

    return _set


def post(url, **kwargs):
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("verify_tls", True)
    return webhook_post(url, body=b'{"a": 1}', headers={"Content-Type": "application/json"}, **kwargs)


def test_connection_goes_to_the_checked_address_even_if_dns_changes_afterwards(fake_dns, receiver):
    calls = fake_dns("127.0.0.1", "127.0.0.2")

    result = post(receiver.url(host=NAME))

    assert result.status_code == 200
    assert len(calls) == 1
    assert receiver.requests[0].headers["Host"] == f"{NAME}:{receiver.port}"


def test_name_resolving_to_a_private_address_is_blocked_before_connecting(fake_dns, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    fake_dns("10.1.2.3")

    result = post(f"https://{NAME}/hook")

    assert result.blocked and result.status_code is None
    assert "non-public address (10.1.2.3)" in result.error


@pytest.mark.parametrize(
    "address", ["::7f00:1", "::ffff:0:7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "::ffff:127.0.0.1"]
)
def test_name_resolving_to_an_ipv4_address_hidden_in_ipv6_is_blocked(fake_dns, settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    fake_dns(address)

    result = post(f"https://{NAME}/hook")

    assert result.blocked and result.status_code is None
    assert f"non-public address ({address})" in result.error


@pytest.mark.parametrize(
    "host", ["[::127.0.0.1]", "[::7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b::7f00:1]"]
)
def test_an_ipv4_address_hidden_in_an_ipv6_literal_is_blocked(settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    result = post(f"https://{host}/hook")

    assert result.blocked and result.status_code is None


def test_loopback_literal_is_blocked_when_private_targets_are_not_allowed(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    result = post(receiver.url())

    assert result.blocked and receiver.requests == []


@pytest.mark.django_db
def test_blocked_target_fails_the_delivery_at_once(make_delivery, receiver, settings):
    delivery = make_delivery()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    assert send_due(delivery) == "failed"

    delivery.refresh_from_db()
    assert delivery.failure_reason == "blocked_target"
    assert delivery.attempts.get().failure_reason == "blocked_target"
    assert receiver.requests == []


def test_unknown_host_is_a_request_failure_not_a_block():
    result = post("https://no-such-host.invalid/hook")
    assert not result.blocked and result.status_code is None
    assert "DNS lookup" in result.error


# TLS ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def tls_receiver(ca, name: str) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return Receiver(ssl_context=context).start()


@pytest.fixture
def trusted(ca, tmp_path, settings):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    settings.WEBHOOK_CA_BUNDLE = str(bundle)


def test_tls_is_verified_against_the_endpoint_name_while_connecting_to_the_pinned_address(fake_dns, ca, trusted):
    fake_dns("127.0.0.1")
    server = tls_receiver(ca, NAME)
    try:
        result = post(server.url(host=NAME))
    finally:
        server.stop()
    assert (result.status_code, result.error) == (200, "")


def test_certificate_for_another_name_is_refused(fake_dns, ca, trusted):
    fake_dns("127.0.0.1")
    server = tls_receiver(ca, "someone-else.fr")
    try:
        result = post(server.url(host=NAME))
    finally:
        server.stop()
    assert result.status_code is None and "certificate" in result.error.lower()
    assert server.requests == []


def test_untrusted_certificate_is_refused_unless_verify_tls_is_off(fake_dns, ca):
    fake_dns("127.0.0.1")
    server = tls_receiver(ca, NAME)
    try:
        verified = post(server.url(host=NAME))
        unverified = post(server.url(host=NAME), verify_tls=False)
    finally:
        server.stop()
    assert verified.status_code is None and "certificate" in verified.error.lower()
    assert unverified.status_code == 200


# time bound -----------------------------------------------------------------------------------------------
@pytest.fixture
def trickler():
    """A receiver that answers a status line, then one header byte every 0.2 s, for ever."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.is_set():
                    try:
                        conn.sendall(b"X")
                    except OSError:
                        break
                    time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_a_trickling_receiver_cannot_hold_the_attempt_past_the_timeout(trickler):
    started = time.monotonic()
    result = post(trickler, timeout=1)
    elapsed = time.monotonic() - started
    assert elapsed < 1.6
    assert result.status_code is None and "within 1 s" in result.error


def test_a_slow_answer_within_the_timeout_is_received(receiver):
    receiver.answer(Answer(200, '{"success": true}', delay=0.5))
    result = post(receiver.url(), timeout=2)
    assert (result.status_code, result.text) == (200, '{"success": true}')


# --- keep-alive ---------------------------------------------------------------------------------------------
@pytest.fixture
def fresh_pool():
    idle_connections.clear()
    yield
    idle_connections.clear()


def test_attempts_to_one_receiver_reuse_its_connection(receiver, fresh_pool):
    for _ in range(3):
        assert post(receiver.url()).status_code == 200
    assert receiver.connections == 1 and len(receiver.requests) == 3


def test_a_receiver_that_answers_connection_close_gets_a_new_connection_each_time(receiver, fresh_pool):
    receiver.default = Answer(200, headers={"Connection": "close"})
    for _ in range(2):
        assert post(receiver.url()).status_code == 200
    assert receiver.connections == 2


def test_a_connection_the_receiver_dropped_while_idle_is_replaced_without_failing(receiver, fresh_pool):
    assert post(receiver.url()).status_code == 200
    receiver.drop_connections()

    result = post(receiver.url())

    assert (result.status_code, result.error) == (200, "")
    assert receiver.connections == 2 and len(receiver.requests) == 2


def test_a_connection_idle_too_long_is_not_reused(receiver, fresh_pool, monkeypatch):
    assert post(receiver.url()).status_code == 200
    monkeypatch.setattr("webhooks.transport.IDLE_SECONDS", 0.0)
    time.sleep(0.01)
    assert post(receiver.url()).status_code == 200
    assert receiver.connections == 2


def test_an_answer_cut_at_the_timeout_never_goes_back_to_the_pool(receiver, fresh_pool):
    receiver.answer(Answer(200, delay=1.5))
    assert "TimeoutError" in post(receiver.url(), timeout=0.5).error
    assert post(receiver.url()).status_code == 200
    assert receiver.connections == 2
