import io
import json
import socket
import time
from wsgiref.util import FileWrapper

import pytest

from signal_server.wsgi_prompt_close import prompt_close
from tests.service import TOKEN, LiveService

BODY = b'{"hello": "world"}'


class Answer:
    """A WSGI answer that records whether the server closed it."""

    def __init__(self, chunks, fail_after=None):
        self.chunks = chunks
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self):
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_after:
                raise RuntimeError("answer failed midway")
            yield chunk

    def close(self):
        self.closed = True


def app_reading(read=lambda stream: stream.read(), answer=None):
    def app(environ, start_response):
        read(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return answer if answer is not None else Answer([b"{}"])

    return app


@pytest.fixture
def connection():
    server_side, client_side = socket.socketpair()
    yield server_side, client_side
    server_side.close()
    client_side.close()


def environ_for(server_side, body=BODY, **overrides):
    return {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.multithread": False,
        "wsgi.file_wrapper": FileWrapper,
        "gunicorn.socket": server_side,
        **overrides,
    }


def start_response(status, headers):
    pass


def serve(app, environ):
    """What gunicorn's sync worker does with an answer: write every chunk, then close it."""
    answer = prompt_close(app)(environ, start_response)
    try:
        return b"".join(answer)
    finally:
        answer.close()


def test_an_answered_request_whose_body_was_read_closes_its_connection(connection):
    server_side, client_side = connection

    serve(app_reading(), environ_for(server_side))

    assert server_side.fileno() == -1
    client_side.settimeout(1)
    assert client_side.recv(10) == b""


def test_a_body_read_line_by_line_counts_as_read(connection):
    server_side, _ = connection
    body = b"line one\nline two\n"

    serve(app_reading(read=lambda stream: [stream.readline(), stream.readline()]), environ_for(server_side, body))

    assert server_side.fileno() == -1


def test_a_body_iterated_counts_as_read(connection):
    server_side, _ = connection

    serve(app_reading(read=list), environ_for(server_side, b"a\nb\n"))

    assert server_side.fileno() == -1


def test_a_request_without_body_closes_its_connection(connection):
    server_side, _ = connection

    serve(app_reading(read=lambda stream: None), environ_for(server_side, b"", CONTENT_LENGTH=""))

    assert server_side.fileno() == -1


def test_the_answer_itself_is_closed(connection):
    server_side, _ = connection
    answer = Answer([b"{}"])

    serve(app_reading(answer=answer), environ_for(server_side))

    assert answer.closed


def test_a_body_left_unread_keeps_the_lingering_close(connection):
    server_side, _ = connection

    serve(app_reading(read=lambda stream: stream.read(3)), environ_for(server_side))

    assert server_side.fileno() != -1


def test_a_pipelined_request_keeps_the_lingering_close(connection):
    server_side, client_side = connection
    client_side.sendall(b"GET /next HTTP/1.1\r\n\r\n")

    serve(app_reading(), environ_for(server_side))

    assert server_side.fileno() != -1


def test_a_chunked_body_keeps_the_lingering_close(connection):
    server_side, _ = connection
    environ = environ_for(server_side, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")

    serve(app_reading(), environ)

    assert server_side.fileno() != -1


def test_an_answer_that_fails_midway_keeps_the_connection_for_the_server(connection):
    server_side, _ = connection
    answer = Answer([b"{", b"}"], fail_after=1)

    with pytest.raises(RuntimeError):
        serve(app_reading(answer=answer), environ_for(server_side))

    assert server_side.fileno() != -1
    assert answer.closed


def test_threaded_workers_keep_their_connections_alive(connection):
    server_side, _ = connection
    answer = Answer([b"{}"])

    served = prompt_close(app_reading(answer=answer))(
        environ_for(server_side, **{"wsgi.multithread": True}), start_response
    )

    assert served is answer
    assert server_side.fileno() != -1


def test_other_servers_get_the_answer_unwrapped():
    answer = Answer([b"{}"])
    environ = {"CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(), "wsgi.multithread": False}

    assert prompt_close(app_reading(answer=answer))(environ, start_response) is answer


def test_file_answers_are_left_to_the_servers_sendfile(connection):
    server_side, _ = connection
    file_answer = FileWrapper(io.BytesIO(b"static"))

    served = prompt_close(app_reading(answer=file_answer))(environ_for(server_side), start_response)

    assert served is file_answer


def _push_request(index: int) -> bytes:
    email = {"sender": "a@b.fr", "subject": f"Lot {index}", "date": "2026-04-10T09:54:38.000Z", "body": "<p>x</p>"}
    body = json.dumps(email | {"message_id": f"prompt-close-{index}"}).encode()
    head = (
        "POST /api/ingress/gmail HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.e2e
def test_a_client_keeping_its_connection_open_does_not_hold_the_web_worker():
    # One sync worker: gunicorn alone would wait up to 2 s for the first client to close before taking the second.
    live = LiveService(serve_args=("--web-workers", "1", "--delivery-workers", "0")).start()
    try:
        with socket.create_connection(("127.0.0.1", live.port)) as first:
            first.sendall(_push_request(1))
            first.settimeout(10)
            answer = b""
            while chunk := first.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")

            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", live.port)) as second:
                second.sendall(_push_request(2))
                second.settimeout(10)
                assert second.recv(65536).startswith(b"HTTP/1.1 200")
            assert time.monotonic() - started < 1
    finally:
        live.stop()
