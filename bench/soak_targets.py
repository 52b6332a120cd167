"""What the soak's server talks to, on loopback: a probe target and slow webhook receivers.

    python3 bench/soak_targets.py TARGET_PORT HOOK_PORT

TARGET_PORT answers GET /ok with 200 "ok" always, and GET /flaky with 200 "ok" for three
minutes, then 500 for three, and so on (monitors go down and up, flap and settle).
HOOK_PORT takes webhook deliveries: POST /slow answers 204 after 2 s, POST /stuck after 8 s
(longer than the soak config's notify timeout: a timeout, then a retry). It counts what it
got in /stats (GET).
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START = time.monotonic()
COUNTS = {"slow": 0, "stuck": 0}
LOCK = threading.Lock()


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Target(Quiet):
    def do_GET(self):
        if self.path.startswith("/flaky"):
            failing = int((time.monotonic() - START) // 180) % 2 == 1
            self.answer(500 if failing else 200, b"down" if failing else b"ok")
        else:
            self.answer(200, b"ok")


class Hook(Quiet):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        which = "stuck" if self.path.startswith("/stuck") else "slow"
        with LOCK:
            COUNTS[which] += 1
        time.sleep(8 if which == "stuck" else 2)
        try:
            self.answer(204)
        except OSError:
            pass  # the sender gave up first: that is the point of /stuck

    def do_GET(self):
        with LOCK:
            body = json.dumps(COUNTS).encode()
        self.answer(200, body)


def serve(port, handler):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    target, hook = int(sys.argv[1]), int(sys.argv[2])
    threading.Thread(target=serve, args=(target, Target), daemon=True).start()
    serve(hook, Hook)
