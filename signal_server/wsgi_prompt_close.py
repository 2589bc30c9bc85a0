"""Freeing a gunicorn sync worker as soon as its answer is out.

A sync worker answers one request per connection, then closes it. Before closing, gunicorn waits for the
client to close its side (up to two seconds), so that request bytes still in flight cannot turn the close
into a reset that would destroy the answer. While it waits, the worker takes no other request: over the
internet that is a round trip per request; on loopback, under `make bench`, it was a tenth of the web CPU
and of the ingress throughput.

A client whose whole request has been read has no bytes in flight, so for it the wait buys nothing. This
WSGI wrapper counts what the application reads of the body and, once the answer has been written, closes
the connection itself when the body was read to its end and nothing more (a pipelined request) has
arrived. Every other case keeps gunicorn's lingering close: unread or chunked bodies, threaded and async
workers (which keep connections alive), errors while answering, and other servers.
"""

import socket


class _CountedInput:
    """The request body stream, counting the bytes the application read from it."""

    def __init__(self, stream):
        self._stream = stream
        self.bytes_read = 0

    def read(self, *args):
        data = self._stream.read(*args)
        self.bytes_read += len(data)
        return data

    def readline(self, *args):
        line = self._stream.readline(*args)
        self.bytes_read += len(line)
        return line

    def readlines(self, *args):
        lines = self._stream.readlines(*args)
        self.bytes_read += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self._stream:
            self.bytes_read += len(line)
            yield line


def _nothing_more_to_read(sock: socket.socket) -> bool:
    try:
        return not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"": the client closed already
    except BlockingIOError:
        return True
    except OSError:
        return False


class _AnswerThenClose:
    """The application's answer, closing the connection once the server has written all of it."""

    def __init__(self, answer, sock: socket.socket, body: _CountedInput, body_length: int):
        self._answer = answer
        self._sock = sock
        self._body = body
        self._body_length = body_length
        self._written = False

    def __iter__(self):
        yield from self._answer
        # gunicorn's sync worker writes each chunk before asking for the next one.
        self._written = True

    def close(self):
        try:
            if hasattr(self._answer, "close"):
                self._answer.close()
        finally:
            if self._written and self._body.bytes_read >= self._body_length and _nothing_more_to_read(self._sock):
                self._sock.close()


def _body_length(environ) -> int | None:
    """Bytes of request body the client sends, or None if unknown (chunked)."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def prompt_close(application):
    """Wrap a WSGI application so that gunicorn's sync workers close answered connections at once."""

    def wrapped(environ, start_response):
        sock = environ.get("gunicorn.socket")
        length = _body_length(environ)
        if sock is None or environ.get("wsgi.multithread", True) or length is None:
            return application(environ, start_response)
        body = environ["wsgi.input"] = _CountedInput(environ["wsgi.input"])
        answer = application(environ, start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and isinstance(answer, file_wrapper):
            return answer  # left to the server's sendfile()
        return _AnswerThenClose(answer, sock, body, length)

    return wrapped
