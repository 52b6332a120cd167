"""The soak's load and its measurements: bounded mixed traffic against one server for a number
of minutes, one line a minute, slopes at the end.

    python3 bench/soak_load.py BASE_URL SERVER_PID MINUTES EDITOR_TOKEN

Every second it queues 10 status page views (service page, index, incident history, feed,
Statuspage summary, badge), 6 JSON reports (each from its own X-Forwarded-For address, the
server trusts loopback as its proxy), one report through the page's form (the page read for
its form token, then the post) and one API read; every 15 s the next step of an incident's
life through the API (create, identified, monitoring, resolved, post-mortem, and again).
Eight workers send it; what they cannot keep up with is not queued (counted as shed), so the
rate stays bounded whatever the server does. Each minute: RSS and open fds of SERVER_PID,
p99 of page views and of reports, requests done, non-2xx answers, shed. At the end: the
least-squares slope per hour of RSS and fds over minutes 5..end and the range of the p99s.
"""

import http.client
import os
import json
import queue
import re
import sys
import threading
import time
import urllib.parse

base, pid, minutes, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
url = urllib.parse.urlsplit(base)
HOST, PORT = url.hostname, url.port
PAGES = ["/s/melodia", "/", "/s/melodia/incidents", "/s/melodia/feed.atom",
         "/api/v2/summary.json", "/s/melodia/badge.svg"]
PROBLEMS = ["login", "playback", "playlists", "search", "crash", "connection"]
PLATFORMS = ["ios", "android", "desktop", "web"]
COUNTRIES = ["GB", "US", "DE", "JP", "BR", "FR"]
TOKEN_RE = re.compile(r'name="form_token" value="([^"]*)"')

lock = threading.Lock()
samples = {"page": [], "report": []}  # latencies (s) this minute
done = errors = shed = 0
not_2xx = {}
work = queue.Queue(maxsize=200)
stop = threading.Event()


seen = set()


def record(kind, started, status, what=""):
    """Counts a request; the first answer of each unexpected status for each request is
    printed to stderr, so a broken step of the load shows what it is."""
    global done, errors
    with lock:
        if (status is None or status >= 300 and status != 304) and (status, what) not in seen:
            seen.add((status, what))
            print(f"note: {status} for {what}", file=sys.stderr, flush=True)
        done += 1
        if kind:
            samples[kind].append(time.monotonic() - started)
        if status is None or status >= 300 and status != 304:
            errors += 1
            not_2xx[status] = not_2xx.get(status, 0) + 1


class Client:
    """One keep-alive connection, made again after an error and every `uses` requests (fd
    churn). The incident steps, 15 s apart, take a connection each: the server closes idle
    ones before that."""

    def __init__(self, uses=50):
        self.conn, self.used, self.uses = None, 0, uses

    def request(self, method, path, body=None, headers=None):
        if self.conn is None or self.used >= self.uses:
            if self.conn:
                self.conn.close()
            self.conn, self.used = http.client.HTTPConnection(HOST, PORT, timeout=30), 0
        self.used += 1
        try:
            self.conn.request(method, path, body, headers or {})
            r = self.conn.getresponse()
            data = r.read()
            return r.status, data
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return None, b""


def page(c, n):
    t = time.monotonic()
    path = PAGES[n % len(PAGES)]
    s, _ = c.request("GET", path, headers={"Accept-Encoding": "gzip"})
    record("page", t, s, f"GET {path}")


def report(c, n):
    body = json.dumps({"problem": PROBLEMS[n % 6], "platform": PLATFORMS[n % 4],
                       "country": COUNTRIES[n % 6]})
    t = time.monotonic()
    s, _ = c.request("POST", "/api/v1/services/melodia/reports", body,
                     {"Content-Type": "application/json",
                      "X-Forwarded-For": f"10.{n // 65025 % 250}.{n // 255 % 255}.{n % 255}"})
    record("report", t, s, "POST a JSON report")


def form(c, n):
    t = time.monotonic()
    s, html = c.request("GET", "/s/melodia")
    record("page", t, s, "GET /s/melodia (form)")
    m = TOKEN_RE.search(html.decode("utf-8", "replace"))
    if not m:
        record(None, t, None, "the form token on /s/melodia")
        return
    fields = urllib.parse.urlencode({"form_token": m.group(1), "platform": "auto",
                                     "country": "", "city": "", "problem": PROBLEMS[n % 6]})
    t = time.monotonic()
    s, _ = c.request("POST", "/s/melodia/report", fields,
                     {"Content-Type": "application/x-www-form-urlencoded",
                      "Origin": base, "User-Agent": "Mozilla/5.0 (iPhone; soak)",
                      "Accept-Language": "de-DE", "X-Forwarded-For": f"172.16.{n // 250 % 250}.{n % 250}"})
    record("report", t, s, "POST /s/melodia/report")


def api_read(c, n):
    path = ["/api/v1/services/melodia/summary?window=60m", "/api/v1/services/melodia/incidents",
            "/api/v1/services/melodia/monitors"][n % 3]
    s, _ = c.request("GET", path)
    record(None, 0, s, f"GET {path}")


incident = {"id": None, "step": 0}
STEPS = ["identified", "monitoring", "resolved"]


def incident_step(c, n):
    """Create, advance through the statuses, write the post-mortem, start again. A step that
    got no answer or a 5xx is tried again next time; a 4xx starts a new incident."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if incident["id"] is None:
        what = "POST incident"
        body = {"title": f"Soak incident {n}", "status": "investigating", "impact": "minor",
                "message": "Looking into it.", "components": {"login": "degraded_performance"},
                "draft": False}
        s, data = c.request("POST", "/api/v1/services/melodia/incidents", json.dumps(body), auth)
        if s == 201:
            incident.update(id=json.loads(data)["id"], step=0)
    elif incident["step"] < len(STEPS):
        status = STEPS[incident["step"]]
        what = f"POST update {status}"
        body = {"status": status, "message": f"Now {status}.",
                "components": {"login": "operational" if status == "resolved" else "degraded_performance"}}
        s, _ = c.request("POST", f"/api/v1/incidents/{incident['id']}/updates", json.dumps(body), auth)
        if s is not None and s < 300:
            incident["step"] += 1
        elif s is not None and s < 500:
            incident["id"] = None
    else:
        what = "PUT postmortem"
        md = f"# Soak {n}\n\nA *test* incident. <script>alert(1)</script> [runbook](https://example.org)\n"
        s, _ = c.request("PUT", f"/api/v1/incidents/{incident['id']}/postmortem",
                         json.dumps({"markdown": md}), auth)
        if s is not None and s < 500:
            incident["id"] = None
    record(None, 0, s, what)


def worker():
    c = Client()
    while True:
        item = work.get()
        if item is None:
            return
        fn, n = item
        fn(c, n)


def enqueue(fn, n):
    global shed
    try:
        work.put_nowait((fn, n))
    except queue.Full:
        with lock:
            shed += 1


def proc_stats():
    with open(f"/proc/{pid}/status") as f:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def p99(xs):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1000


def slope_per_hour(points):
    """Least squares slope of (minute, value), per hour."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return sxy / sxx * 60 if sxx else float("nan")


def main():
    global done, errors, shed
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    # Incident steps go through one worker of their own, in order.
    steps = queue.Queue()
    def incident_worker():
        c = Client(uses=1)
        while (n := steps.get()) is not None:
            incident_step(c, n)
    it = threading.Thread(target=incident_worker, daemon=True)
    it.start()

    rss0, fds0 = proc_stats()
    print(f"start: RSS {rss0:.1f} MB, {fds0} fds; load: 10 page views, 6 JSON reports, "
          f"1 form report, 1 API read per second; an incident step every 15 s", flush=True)
    print(f"{'min':>3} {'RSS MB':>7} {'fds':>4} {'p99 page ms':>11} {'p99 report ms':>13} "
          f"{'requests':>8} {'non-2xx':>7} {'shed':>4}", flush=True)
    rows = []
    n = 0
    start = time.monotonic()
    for minute in range(1, minutes + 1):
        for sec in range(60):
            tick = start + (minute - 1) * 60 + sec
            time.sleep(max(0.0, tick - time.monotonic()))
            for _ in range(10):
                enqueue(page, n); n += 1
            for _ in range(6):
                enqueue(report, n); n += 1
            enqueue(form, n); n += 1
            enqueue(api_read, n); n += 1
            if sec % 15 == 0:
                steps.put(n)
        time.sleep(max(0.0, start + minute * 60 - time.monotonic()))
        rss, fds = proc_stats()
        with lock:
            pp, pr = p99(samples["page"]), p99(samples["report"])
            row = (minute, rss, fds, pp, pr, done, errors, shed, dict(not_2xx))
            samples["page"].clear(); samples["report"].clear()
            done = errors = shed = 0
            not_2xx.clear()
        rows.append(row)
        codes = ",".join(f"{k}:{v}" for k, v in sorted(row[8].items(), key=str)) if row[8] else ""
        print(f"{minute:>3} {rss:>7.1f} {fds:>4} {pp:>11.1f} {pr:>13.1f} {row[5]:>8} "
              f"{row[6]:>7} {row[7]:>4} {codes}", flush=True)
    for _ in threads:
        work.put(None)
    steps.put(None)

    first = 5 if minutes >= 7 else 1
    tail = [r for r in rows if r[0] >= first]
    pages = [r[3] for r in rows]
    reports = [r[4] for r in rows]
    print(f"slope over minutes {first}..{minutes}: RSS {slope_per_hour([(r[0], r[1]) for r in tail]):+.2f} MB/hour, "
          f"fds {slope_per_hour([(r[0], r[2]) for r in tail]):+.2f}/hour")
    print(f"p99 page views {min(pages):.1f}..{max(pages):.1f} ms, reports {min(reports):.1f}..{max(reports):.1f} ms; "
          f"{sum(r[5] for r in rows)} requests, {sum(r[6] for r in rows)} non-2xx, {sum(r[7] for r in rows)} shed")


if __name__ == "__main__":
    main()
