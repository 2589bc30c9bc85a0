"""A minimal receiver for the benchmark, run as its own process so it does not share a GIL with the load.

`python -m bench.receiver PORT [--delay SECONDS] [--black-hole]`. Prints one line per request to
stdout: `<arrival unix time> <email_id>`, when the request's body has arrived (before any delay). A
black hole accepts connections and never answers.
"""

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK = b'{"success": true}'


def handler(delay: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without TCP_NODELAY, delayed ACKs add ~40 ms to each answer.
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            try:
                payload = json.loads(body)
                # The legacy app names it microsoft_graph_email_id.
                email_id = payload.get("email_id") or payload.get("microsoft_graph_email_id", "?")
            except ValueError:
                email_id = "?"
            sys.stdout.write(f"{arrived:.6f} {email_id}\n")
            sys.stdout.flush()
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(OK)))
            self.end_headers()
            self.wfile.write(OK)

        def log_message(self, *args):
            pass

    return Handler


def black_hole(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port), backlog=256)
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)  # never read, never answered, never closed


class Server(ThreadingHTTPServer):
    # Class attributes: the listen backlog is set in __init__, too late for an instance attribute.
    daemon_threads = True
    request_queue_size = 256  # bursts of 100 and more connections at once


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--black-hole", action="store_true")
    args = parser.parse_args()
    if args.black_hole:
        black_hole(args.port)
        return
    server = Server(("127.0.0.1", args.port), handler(args.delay))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
