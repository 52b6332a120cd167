#!/usr/bin/env bash
# Benchmark (not a test): what coordinating several nodes costs. On one machine three nodes
# cannot show more throughput, so this measures the cost instead: one node against three
# nodes on one PostgreSQL, in the same run, each on a fresh database —
#   - CPU per probe: 300 HTTP monitors every 5 s (60 probes/s; MONITORS=n for n of them)
#     against a local nginx;
#   - CPU per report: wrk posting reports from new client addresses, 16 connections per
#     node (CONNS=n for n), against one node twice: with the three nodes' load in all (48
#     connections) and with the load each of them gets (16). wrk waits for each answer, so a
#     node's group commit can batch at most its connections' reports: one node under 48
#     connections batches three times as many reports per commit as each of three nodes
#     under 16, a difference of load rather than of coordination, which the second
#     comparison leaves out;
#   - failover: SIGKILL one of three probing nodes; the time until another node probes
#     the first (and the last) of its monitors, and the rounds lost.
# CPU is user+system time of every downbeat process and of the PostgreSQL server (its
# backends included), so the database's share of the coordination counts.
#   bench/cluster.sh [seconds per phase, default 40] [pairs, default 2]
# ONLY=probes or ONLY=reports runs only those phases (no failover). PAUSE=ms makes every
# wrk connection wait that long before each request: the offered rate is then fixed
# (connections × 1000 / ms per second, e.g. PAUSE=16 with 48 connections in all: about
# 3,000 reports/s) instead of as fast as the nodes answer, so batch sizes follow the load,
# not the saturation.
# Needs PostgreSQL's server binaries, nginx and wrk (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-40}; pairs=${2:-2}
for p in nginx wrk; do command -v $p >/dev/null || [ -x /usr/sbin/$p ] || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null; }; done
PATH=$PATH:/usr/sbin
source bench/lib.sh
bin=$(release_bin)
tmp=$(mktemp -d); chmod 755 "$tmp"
pids=()
source .ci/postgres.sh
# Asked to stop first (nginx's master then ends its workers), killed if still there.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pg_stop; rm -rf "$tmp"
}
trap cleanup EXIT
pg_start >/dev/null
psql_() { psql -qtAX "$DOWNBEAT_TEST_POSTGRES_URL" -c "$1"; }
psql_db() { psql -qtAX "${DOWNBEAT_TEST_POSTGRES_URL%/*}/$1" -c "$2"; }

# The probes' target: nginx serving a two-byte file, one worker.
mkdir -p "$tmp/www"; echo ok >"$tmp/www/index.html"; chmod 755 "$tmp/www"; chmod 644 "$tmp/www/index.html"
np=$(free_port)
static_nginx "$tmp" "$np" 1

# CPU seconds (user+system) of the given pids and of the PostgreSQL server with every
# backend it has started (the postmaster's own, its live children's, and its reaped ones').
cpu() {
  python3 - "$PG_DIR/data/postmaster.pid" "$@" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
def stat(pid):
    try:
        s = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[1]), [int(x) for x in f[11:15]]  # ppid, utime stime cutime cstime
post = int(open(sys.argv[1]).readline())
ours = 0
for pid in sys.argv[2:]:
    st = stat(pid)
    if st: ours += st[1][0] + st[1][1]
st = stat(post)
pg = sum(st[1])
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != post:
        st = stat(p)
        if st and st[0] == post:
            pg += st[1][0] + st[1][1]
# total, then downbeat's and PostgreSQL's shares
print((ours + pg) / hz, ours / hz, pg / hz)
PY
}

# Starts NODES nodes on a fresh database DB with the config CONF; sets node_pids, ports.
start_nodes() { # NODES DB CONF
  psql_ "DROP DATABASE IF EXISTS $2" >/dev/null 2>&1; psql_ "CREATE DATABASE $2" >/dev/null
  node_pids=(); ports=()
  for k in $(seq "$1"); do
    local port; port=$(free_port)
    DOWNBEAT_DATABASE_URL="${DOWNBEAT_TEST_POSTGRES_URL%/*}/$2" \
      "$bin" serve --config "$3" --data-dir "$tmp/data-$2-$k" --listen "127.0.0.1:$port" \
      2>"$tmp/$2-$k.log" &
    node_pids+=($!); pids+=($!); ports+=("$port")
  done
  for port in "${ports[@]}"; do wait_http "http://127.0.0.1:$port/readyz" || { cat "$tmp/$2"-*.log; exit 1; }; done
}
stop_nodes() { for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done; }

head_conf() { printf '[server]\nregion = "bench"\ntrusted_proxies = ["127.0.0.0/8"]\n[reports]\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n[probes]\nconcurrency = 1024\n[[service]]\nid = "melodia"\nname = "Melodia"\n'; }
head_conf >"$tmp/reports.toml"
{ head_conf; python3 -c '
import sys
port = sys.argv[1]
print("".join(f"\n[[monitor]]\nid = \"m{i}\"\nservice = \"melodia\"\nkind = \"http\"\ntarget = \"http://127.0.0.1:{port}/?m={i}\"\ninterval = \"5s\"\ntimeout = \"5s\"\n" for i in range(int(sys.argv[2]))))
' "$np" "${MONITORS:-300}"; } >"$tmp/probes.toml"

# One probing phase: CPU per stored probe over `secs` after the nodes settled.
probe_phase() { # NODES DB
  start_nodes "$1" "$2" "$tmp/probes.toml"
  sleep 8   # ownership settles (a node counts 3 s after its first beat), first rounds run
  local t0 c0 c1 d0 d1 g0 g1 t1 n
  t0=$(psql_db "$2" "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000 AS BIGINT)")
  read -r c0 d0 g0 < <(cpu "${node_pids[@]}")
  sleep "$secs"
  read -r c1 d1 g1 < <(cpu "${node_pids[@]}")
  t1=$(psql_db "$2" "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000 AS BIGINT)")
  n=$(psql_db "$2" "SELECT count(*) FROM probe_results WHERE at_ms >= $t0 AND at_ms < $t1")
  per "$c0" "$c1" "$d0" "$d1" "$g0" "$g1" "$n"
}

# µs of CPU per item: total, downbeat's, PostgreSQL's; then the count.
per() {
  python3 -c "import sys; a=list(map(float,sys.argv[1:7])); n=int(sys.argv[7]); print(f'{(a[1]-a[0])/n*1e6:.0f} {n} {(a[3]-a[2])/n*1e6:.0f} {(a[5]-a[4])/n*1e6:.0f}')" "$@"
}

# One report phase: CPU per counted report, CONNS connections of wrk to each node.
report_phase() { # NODES DB CONNS [PAUSE ms before each request]
  start_nodes "$1" "$2" "$tmp/reports.toml"
  sleep 5
  local c0 c1 d0 d1 g0 g1 n conns=$3 w=()
  read -r c0 d0 g0 < <(cpu "${node_pids[@]}")
  local k=0
  for port in "${ports[@]}"; do
    # Each wrk its own clients (a client reaching two nodes counts once, as it should).
    wrk -t1 -c"$conns" -d"${secs}s" -s bench/ingest.lua "http://127.0.0.1:$port/api/v1/services/melodia/reports" \
      -- $((k * 4000000)) "${4:-0}" >"$tmp/wrk-$port.txt" & w+=($!)
    k=$((k + 1))
  done
  wait "${w[@]}"
  cat "$tmp"/wrk-*.txt >>"$tmp/wrk-all-$2.txt"; cp "$tmp/wrk-all-$2.txt" "${BENCH_KEEP:-$tmp}/" 2>/dev/null || true
  sleep 2   # the last batches commit
  read -r c1 d1 g1 < <(cpu "${node_pids[@]}")
  n=$(psql_db "$2" "SELECT count(*) FROM reports WHERE counted")
  per "$c0" "$c1" "$d0" "$d1" "$g0" "$g1" "$n"
}

# The three report phases of a pair, and their line: µs of CPU per report (downbeat +
# PostgreSQL, reports counted).
reports_phases() {
  local c=${CONNS:-16} r1 m1 rd1 rg1 s1 ms1 sd1 sg1 r3 m3 rd3 rg3
  report_phase 1 "r1_$pair" $((3 * c)) "${PAUSE:-0}" >"$tmp/out"; stop_nodes; read -r r1 m1 rd1 rg1 <"$tmp/out"
  report_phase 1 "s1_$pair" "$c" "${PAUSE:-0}" >"$tmp/out"; stop_nodes; read -r s1 ms1 sd1 sg1 <"$tmp/out"
  report_phase 3 "r3_$pair" "$c" "${PAUSE:-0}" >"$tmp/out"; stop_nodes; read -r r3 m3 rd3 rg3 <"$tmp/out"
  echo "$pair  reports: µs CPU/report 1 node under $((3 * c)) connections $r1 ($rd1+$rg1, $m1), under $c $s1 ($sd1+$sg1, $ms1); 3 nodes under $c each $r3 ($rd3+$rg3, $m3): $(python3 -c "print(f'{$r3/$r1:.2f}x same load in all, {$r3/$s1:.2f}x same load per node')")"
}

echo "CPU per item: total (downbeat + PostgreSQL, count)"
for pair in $(seq "$pairs"); do
  # Phases run in this shell (not a subshell): they set the node pids that stop_nodes uses.
  if [ "${ONLY:-}" = reports ]; then
    reports_phases
    continue
  fi
  probe_phase 1 "p1_$pair" >"$tmp/out"; stop_nodes; read -r p1 n1 pd1 pg1 <"$tmp/out"
  probe_phase 3 "p3_$pair" >"$tmp/out"; read -r p3 n3 pd3 pg3 <"$tmp/out"
  if [ "${ONLY:-}" = probes ]; then
    stop_nodes
    echo "$p1 ($pd1+$pg1) vs $p3 ($pd3+$pg3): $(python3 -c "print(f'{$p3/$p1:.2f}x')")"
    continue
  fi
  if [ "$pair" = 1 ]; then
    # Failover: kill the node with the most monitors' results in the last round… any node
    # will do: rendezvous hashing gives each about a third.
    kill_ms=$(psql_db "p3_$pair" "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000 AS BIGINT)")
    kill -9 "${node_pids[0]}"; wait "${node_pids[0]}" 2>/dev/null || true
    sleep 20
    psql_db "p3_$pair" "
      WITH around AS (
        SELECT monitor,
          (SELECT max(at_ms) FROM probe_results r WHERE r.monitor = m.monitor AND at_ms < $kill_ms) AS before,
          (SELECT min(at_ms) FROM probe_results r WHERE r.monitor = m.monitor AND at_ms >= $kill_ms) AS after
        FROM (SELECT DISTINCT monitor FROM probe_results) m)
      SELECT count(*), min(after - $kill_ms), max(after - $kill_ms),
             max(round((after - before) / 5000.0) - 1)
      FROM around WHERE after - before > 7500" >"$tmp/failover.txt"
  fi
  stop_nodes
  echo "$pair  probes: µs CPU/probe 1 node $p1 ($pd1+$pg1, $n1 probes), 3 nodes $p3 ($pd3+$pg3, $n3 probes): $(python3 -c "print(f'{$p3/$p1:.2f}x')")"
  reports_phases
done
[ -f "$tmp/failover.txt" ] || exit 0
IFS='|' read -r orphans first last lost <"$tmp/failover.txt"
echo "failover after SIGKILL: $orphans monitors taken over; first probed by another node after ${first} ms, last after ${last} ms; at most ${lost} round(s) lost per monitor"
