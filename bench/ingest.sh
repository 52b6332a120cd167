#!/usr/bin/env bash
# Benchmark (not a test): durable report ingestion over HTTP on loopback against the same
# server's trivial /healthz, in one run. Prints durable reports/s, p50/p99 and the ratio.
#   bench/ingest.sh [seconds per phase, default 8] [connections, default 64]
# Needs wrk (Debian package; installed if missing). Uses a fresh SQLite data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}; conns=${2:-64}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin downbeat -q
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/bench.toml" <<'TOML'
[server]
trusted_proxies = ["127.0.0.0/8"]
[reports]
rate_limit_burst = 1000
[[service]]
id = "melodia"
name = "Melodia"
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/downbeat serve --config "$tmp/bench.toml" --data-dir "$tmp/data" --listen "127.0.0.1:$port" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
base=http://127.0.0.1:$port
wrk -t1 -c"$conns" -d2s "$base/healthz" >/dev/null
wrk -t1 -c"$conns" -d"${secs}s" --latency "$base/healthz" >"$tmp/healthz.txt"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/ingest.lua "$base/api/v1/services/melodia/reports" >"$tmp/ingest.txt"
counted=$(curl -fsS "$base/api/v1/services/melodia/summary?window=1h" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
python3 - "$tmp/healthz.txt" "$tmp/ingest.txt" "$counted" <<'PY'
import re, sys
def parse(path):
    t = open(path).read()
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
    lat = dict(re.findall(r"^\s*(50|99)%\s+(\S+)", t, re.M))
    total = int(re.search(r"(\d+) requests in", t).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
    return rate, lat, total, int(bad.group(1)) if bad else 0
h, i = parse(sys.argv[1]), parse(sys.argv[2])
counted = int(sys.argv[3])
print(f"healthz: {h[0]:,.0f} req/s, p50 {h[1].get('50')}, p99 {h[1].get('99')}")
print(f"ingest:  {i[0]:,.0f} durable reports/s, p50 {i[1].get('50')}, p99 {i[1].get('99')}, non-2xx {i[3]}")
print(f"ratio ingest/healthz: {i[0] / h[0]:.2f}x; {counted:,} of {i[2]:,} reports counted in the store")
PY
