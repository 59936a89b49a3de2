"""A webhook receiver for the tests: checks every delivery with the
`standardwebhooks` library (Standard Webhooks signatures) and records it.

Usage: webhook_receiver.py
Listens on 127.0.0.1 with a port the system picks, and prints "ready PORT"
once listening.

Every POST outside /_control/ is a delivery: it is verified with
Webhook(secret).verify(body, headers) and recorded, then answered
  - the status set by /_control/fail_next while that count lasts (500 by default),
  - else 401 when verification failed (no secret set, missing headers, bad
    signature, timestamp more than 5 minutes off),
  - else 204.
A /_control/delay makes each delivery wait before its answer (it is recorded
at once, with the status it is going to get).

Control endpoints (JSON bodies):
  POST /_control/secret     {"secret": "whsec_..."}    (null forgets it)
  POST /_control/fail_next  {"count": N, "status": 500}
  POST /_control/delay      {"seconds": S}            (0 for none)
  POST /_control/reset      forgets the deliveries (keeps the secret)
  GET  /_control/received   the deliveries, oldest first
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

lock = threading.Lock()
state = {"secret": None, "fail_count": 0, "fail_status": 500, "delay": 0.0}
received = []


def verify(secret, body, headers):
    """(verified, error) for one delivery."""
    if not secret:
        return False, "no secret set (POST /_control/secret)"
    try:
        Webhook(secret).verify(body, headers)
        return True, None
    except Exception as e:  # WebhookVerificationError, bad base64, non-UTF-8 body, ...
        return False, f"{type(e).__name__}: {e}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, payload=None):
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/_control/received":
            with lock:
                self.answer(200, list(received))
        else:
            self.answer(404, {"error": f"no GET {self.path} here"})

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/_control/"):
            self.control(self.path[len("/_control/"):], body)
        else:
            self.deliver(body)

    def control(self, name, body):
        try:
            args = json.loads(body) if body else {}
        except ValueError as e:
            self.answer(400, {"error": f"not JSON: {e}"})
            return
        with lock:
            if name == "secret":
                state["secret"] = args.get("secret")
            elif name == "fail_next":
                state["fail_count"] = int(args.get("count", 1))
                state["fail_status"] = int(args.get("status", 500))
            elif name == "delay":
                state["delay"] = float(args.get("seconds", 0))
            elif name == "reset":
                received.clear()
            else:
                self.answer(404, {"error": f"no control {name!r}"})
                return
        self.answer(204)

    def deliver(self, body):
        headers = {k: v for k, v in self.headers.items()}
        with lock:
            secret = state["secret"]
        verified, error = verify(secret, body, headers)
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        with lock:
            if state["fail_count"] > 0:
                state["fail_count"] -= 1
                status = state["fail_status"]
            else:
                status = 204 if verified else 401
            delay = state["delay"]
            received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "webhook_id": self.headers.get("webhook-id"),
                    "webhook_timestamp": self.headers.get("webhook-timestamp"),
                    "webhook_signature": self.headers.get("webhook-signature"),
                    "content_type": self.headers.get("Content-Type"),
                    "user_agent": self.headers.get("User-Agent"),
                    "body": parsed,
                    "body_text": text,
                    "verified": verified,
                    "error": error,
                    "status": status,
                    "delay_seconds": delay,
                    "received_at": time.time(),
                }
            )
        if delay > 0:
            time.sleep(delay)
        self.answer(status, None if status == 204 else {"verified": verified, "error": error})

    # Webhooks are POSTs; other methods are recorded (with their method) the same way.
    do_PUT = do_PATCH = do_DELETE = lambda self: self.deliver(self.read_body())


class Server(ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(f"ready {server.server_address[1]}", flush=True)
server.serve_forever()
