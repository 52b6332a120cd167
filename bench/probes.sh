#!/usr/bin/env bash
# Benchmark (not a test): what probing costs, against Prometheus' blackbox_exporter in the
# same run, and the scheduler holding 10,000 monitors.
#   bench/probes.sh [seconds per CPU run, default 30] [scheduler seconds, default 180]
# (a) 500 HTTP monitors every 5 s (100 probes/s) against a local nginx: downbeat's CPU per
#     1,000 probes (probes counted from its /metrics) and RSS; blackbox_exporter asked for
#     100 probes/s of the same nginx (its own CPU only, not the client's); the ratio.
# (b) 10,000 HTTP monitors every 30 s (333 probes/s) against the same nginx: schedule lag
#     percentiles (from /metrics), the cadence read back from the stored results (gap
#     error between consecutive results, drift of the last one from the first one's grid),
#     skipped rounds, CPU and RSS (current and peak).
# Needs nginx and prometheus-blackbox-exporter (Debian packages; installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}; sched=${2:-180}
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v prometheus-blackbox-exporter >/dev/null || need+=(prometheus-blackbox-exporter)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
source bench/lib.sh
bin=$(release_bin)
measure="python3 bench/probe_measure.py"
tmp=$(mktemp -d)
chmod 755 "$tmp"   # nginx's workers run as www-data when started as root
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# The target: nginx serving a two-byte file, one worker.
mkdir -p "$tmp/www"; echo ok >"$tmp/www/index.html"; chmod 755 "$tmp/www"; chmod 644 "$tmp/www/index.html"
np=$(free_port)
static_nginx "$tmp" "$np" 1

# (a) blackbox_exporter at 100 probes/s.
bp=$(free_port)
printf 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n' >"$tmp/bb.yml"
prometheus-blackbox-exporter --config.file="$tmp/bb.yml" --web.listen-address="127.0.0.1:$bp" >"$tmp/bb.log" 2>&1 & bb=$!; pids+=($bb)
wait_http "http://127.0.0.1:$bp/metrics" || { cat "$tmp/bb.log"; exit 1; }
bburl="http://127.0.0.1:$bp/probe?target=http://127.0.0.1:$np/&module=http_2xx"
$measure cpu "$bb" 5 pace "$bburl" 100 >/dev/null
$measure cpu "$bb" "$secs" pace "$bburl" 100 >"$tmp/bb.json"
kill "$bb"

# (a) downbeat: 500 monitors every 5 s.
monitors() { # COUNT INTERVAL FILE
  printf '[server]\nregion = "bench"\n[probes]\nconcurrency = 1024\n[[service]]\nid = "melodia"\nname = "Melodia"\n' >"$3"
  python3 - "$1" "$2" "$np" >>"$3" <<'PY'
import sys
n, iv, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print("".join(f'\n[[monitor]]\nid = "m{i}"\nservice = "melodia"\nkind = "http"\ntarget = "http://127.0.0.1:{port}/?m={i}"\ninterval = "{iv}"\ntimeout = "5s"\n' for i in range(n)))
PY
}
monitors 500 5s "$tmp/a.toml"
port=$(free_port)
"$bin" serve --config "$tmp/a.toml" --data-dir "$tmp/a" --listen "127.0.0.1:$port" 2>"$tmp/a.log" & dpid=$!; pids+=($dpid)
wait_http "http://127.0.0.1:$port/healthz" || { cat "$tmp/a.log"; exit 1; }
sleep 12
$measure metrics "http://127.0.0.1:$port/metrics" >"$tmp/a0.json"
$measure cpu "$dpid" "$secs" >"$tmp/db.json"
$measure metrics "http://127.0.0.1:$port/metrics" >"$tmp/a1.json"
kill "$dpid"; wait "$dpid" 2>/dev/null || true

python3 - "$tmp/bb.json" "$tmp/db.json" "$tmp/a0.json" "$tmp/a1.json" <<'PY'
import json, sys
bb, db, m0, m1 = (json.load(open(f)) for f in sys.argv[1:5])
probes = m1["probes"] - m0["probes"]
bb_ms = bb["cpu_s"] / max(bb["ok"], 1) * 1000
db_ms = db["cpu_s"] / max(probes, 1) * 1000
print(f"(a) 100 probes/s of http://127.0.0.1 (nginx) for {db['wall_s']:.0f} s")
print(f"    blackbox_exporter: {bb['ok']} probes ok, CPU {bb['cpu_s']:.2f} s = {bb_ms * 1000:.0f} ms per 1,000 probes, RSS {bb['rss_kb'] // 1024} MB")
print(f"    downbeat:          {probes:.0f} probes,    CPU {db['cpu_s']:.2f} s = {db_ms * 1000:.0f} ms per 1,000 probes, RSS {db['rss_kb'] // 1024} MB (peak {db['hwm_kb'] // 1024} MB)")
print(f"    ratio downbeat / blackbox CPU per probe: {db_ms / bb_ms:.2f}x (target <= 0.5x)")
PY

# (b) 10,000 monitors every 30 s.
monitors 10000 30s "$tmp/b.toml"
port=$(free_port)
"$bin" serve --config "$tmp/b.toml" --data-dir "$tmp/b" --listen "127.0.0.1:$port" 2>"$tmp/b.log" & dpid=$!; pids+=($dpid)
wait_http "http://127.0.0.1:$port/healthz" || { cat "$tmp/b.log"; exit 1; }
sleep 40   # every monitor has had its first run (spread over the first 30 s)
$measure metrics "http://127.0.0.1:$port/metrics" >"$tmp/b0.json"
since_ms=$(($(date +%s%3N)))
$measure cpu "$dpid" "$sched" >"$tmp/bcpu.json"
$measure metrics "http://127.0.0.1:$port/metrics" >"$tmp/b1.json"
$measure lag "$tmp/b0.json" "$tmp/b1.json" >"$tmp/blag.json"
kill "$dpid"; wait "$dpid" 2>/dev/null || true
$measure cadence "$tmp/b/downbeat.sqlite3" "$since_ms" 30 >"$tmp/bcad.json"
python3 - "$tmp/bcpu.json" "$tmp/b0.json" "$tmp/b1.json" "$tmp/blag.json" "$tmp/bcad.json" <<'PY'
import json, sys
cpu, m0, m1, lag, cad = (json.load(open(f)) for f in sys.argv[1:6])
probes = m1["probes"] - m0["probes"]
print(f"(b) 10,000 monitors every 30 s, measured over {cpu['wall_s']:.0f} s after a 40 s start")
print(f"    probes {probes:.0f} = {probes / cpu['wall_s']:.1f}/s (ideal 333.3/s), skipped rounds {lag['skipped']}")
print(f"    schedule lag (histogram bucket bounds): p50 <= {lag['lag_p50_le_ms']:.1f} ms, p99 <= {lag['lag_p99_le_ms']:.1f} ms, "
      f"p99.9 <= {lag['lag_p99.9_le_ms']:.1f} ms, max <= {lag['lag_max_le_ms']:.1f} ms")
g, d = cad["gap_error_ms"], cad["drift_ms"]
print(f"    stored cadence: {cad['monitors']} monitors, {cad['results']} results; gap - 30 s: p50 {g['p50']} ms, p99 {g['p99']} ms, "
      f"min {g['min']} ms, max {g['max']} ms; drift over the run: p50 {d['p50']} ms, p99 {d['p99']} ms, max {d['max']} ms")
print(f"    CPU {cpu['cpu_s']:.1f} s = {cpu['cpu_s'] / cpu['wall_s'] * 100:.0f}% of one core, {cpu['cpu_s'] / max(probes, 1) * 1e6:.0f} ms per 1,000 probes; "
      f"RSS {cpu['rss_kb'] // 1024} MB, peak {cpu['hwm_kb'] // 1024} MB (target < 150 MB)")
PY
