"""An HTTP proxy in front of moto that makes IAM as slow and as rationed as AWS's: every IAM call
takes `latency` seconds, and calls beyond `rate` a second (across all callers: IAM's request rate is
the account's) are refused with IAM's own `Throttling` error instead of reaching moto. Other
services pass straight through. Counts what it let through and what it refused.
"""

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

THROTTLED = (b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
             b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error>'
             b'<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>')


class Bucket:
    """A token bucket holding at most one second's worth of calls."""

    def __init__(self, rate: float):
        self.rate, self.tokens, self.at = rate, rate, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def start(upstream: str, latency: float, rate: float):
    """Starts the proxy on 127.0.0.1; returns (its URL, its counts, stop)."""
    target = urlsplit(upstream)
    bucket = Bucket(rate)
    counts = {"iam_passed": 0, "iam_throttled": 0, "other": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            iam = "/iam/aws4_request" in (self.headers.get("Authorization") or "")
            if iam:
                time.sleep(latency)
                if not bucket.take():
                    with lock:
                        counts["iam_throttled"] += 1
                    self.send_response(400)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(THROTTLED)))
                    self.end_headers()
                    self.wfile.write(THROTTLED)
                    return
            with lock:
                counts["iam_passed" if iam else "other"] += 1
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", counts, server.shutdown
