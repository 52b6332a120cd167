#!/usr/bin/env python3
"""Measurements for bench/probes.sh (not a test).

  probe_measure.py cpu PID SECONDS [pace URL RATE]
      CPU seconds (user+sys) PID spends over SECONDS, its RSS and peak RSS (kB) at the end;
      with `pace URL RATE`, GETs URL at RATE/s meanwhile (4 threads, keep-alive) and counts
      answers with `probe_success 1` (blackbox_exporter's). One JSON line.
  probe_measure.py metrics URL
      The downbeat_probes_total sum and the schedule-lag histogram from /metrics, as JSON.
  probe_measure.py lag BEFORE.json AFTER.json
      Schedule-lag percentiles between two `metrics` snapshots.
  probe_measure.py cadence DB SINCE_MS INTERVAL_S
      From the store (SQLite): per monitor, the gaps between consecutive results and the
      drift of the last result from the first one's grid; percentiles over all monitors.
"""
import http.client, json, os, sqlite3, sys, threading, time, urllib.parse, urllib.request

def proc_cpu(pid):
    s = open(f"/proc/{pid}/stat").read(); f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def proc_kb(pid, key):
    return next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith(key))

def cpu(pid, secs, pace=None):
    ok = [0]
    def pacer(url, rate, k, nt, start, n):
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        for i in range(k, n, nt):
            d = start + i / rate - time.monotonic()
            if d > 0: time.sleep(d)
            c.request("GET", u.path + "?" + u.query); r = c.getresponse(); body = r.read()
            if r.status == 200 and b"probe_success 1" in body: ok[0] += 1
    c0, t0 = proc_cpu(pid), time.monotonic()
    if pace:
        url, rate = pace[0], float(pace[1]); n = int(rate * secs)
        th = [threading.Thread(target=pacer, args=(url, rate, k, 4, t0 + 0.1, n)) for k in range(4)]
        [t.start() for t in th]; [t.join() for t in th]
    else:
        time.sleep(secs)
    return {"cpu_s": proc_cpu(pid) - c0, "wall_s": time.monotonic() - t0,
            "rss_kb": proc_kb(pid, "VmRSS"), "hwm_kb": proc_kb(pid, "VmHWM"), "ok": ok[0]}

def metrics(url):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    probes, buckets, count = 0.0, [], 0.0
    for line in text.splitlines():
        if line.startswith("downbeat_probes_total"):
            probes += float(line.split()[-1])
        elif line.startswith("downbeat_probe_schedule_lag_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
        elif line.startswith("downbeat_probe_schedule_lag_seconds_count"):
            count = float(line.split()[-1])
        elif line.startswith("downbeat_probes_skipped_total"):
            skipped = float(line.split()[-1])
    return {"probes": probes, "lag_buckets": buckets, "lag_count": count,
            "skipped": locals().get("skipped", 0.0)}

def lag(before, after):
    b = dict(map(tuple, before["lag_buckets"])); a = after["lag_buckets"]
    diffs = [(le, c - b.get(le, 0.0)) for le, c in a]
    total = diffs[-1][1] if diffs else 0
    out = {"lag_samples": int(total), "skipped": int(after["skipped"] - before["skipped"])}
    for q in (0.5, 0.9, 0.99, 0.999):
        le = next((le for le, c in diffs if c >= q * total), float("inf"))
        out[f"lag_p{str(q * 100).rstrip('0').rstrip('.')}_le_ms"] = le * 1000
    out["lag_max_le_ms"] = next((le for le, c in diffs if c >= total), float("inf")) * 1000
    return out

def pct(xs, q):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

def cadence(db, since_ms, interval_s):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT monitor, at_ms FROM probe_results WHERE at_ms >= ? ORDER BY monitor, at_ms", (since_ms,))
    per = {}
    for m, at in rows:
        per.setdefault(m, []).append(at)
    iv = interval_s * 1000
    gaps, drifts = [], []
    for ats in per.values():
        gaps += [(b - a) - iv for a, b in zip(ats, ats[1:])]
        if len(ats) > 1:
            drifts.append((ats[-1] - ats[0]) - (len(ats) - 1) * iv)
    return {"monitors": len(per), "results": sum(map(len, per.values())),
            "gap_error_ms": {q: pct(gaps, p) for q, p in (("p50", .5), ("p99", .99), ("min", 0), ("max", 1))},
            "drift_ms": {q: pct(drifts, p) for q, p in (("p50", .5), ("p99", .99), ("min", 0), ("max", 1))}}

cmd = sys.argv[1]
if cmd == "cpu":
    print(json.dumps(cpu(int(sys.argv[2]), float(sys.argv[3]), sys.argv[5:7] if len(sys.argv) > 4 else None)))
elif cmd == "metrics":
    print(json.dumps(metrics(sys.argv[2])))
elif cmd == "lag":
    print(json.dumps(lag(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])))))
elif cmd == "cadence":
    print(json.dumps(cadence(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
else:
    sys.exit(__doc__)
