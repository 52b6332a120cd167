#!/usr/bin/env bash
# What a change made at runtime costs as the config grows: creates N monitors one by one
# through the API (each is checked against the whole config, stored and put in force), and
# prints the mean time per create over the first and the last tenth, and their ratio. Every
# change composes and validates the whole config, so the cost grows with it; the ratio says
# how fast. Usage: bench/config-changes.sh [N=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
N=${1:-1000}
BIN=$(release_bin)
DIR=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
PORT=$(free_port)
printf '[[service]]\nid = "melodia"\nname = "Melodia"\n' >"$DIR/downbeat.toml"
"$BIN" serve --config "$DIR/downbeat.toml" --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" 2>"$DIR/log" & pids+=($!)
wait_http "http://127.0.0.1:$PORT/healthz"
TOKEN=$("$BIN" token create --name bench --role editor --config "$DIR/downbeat.toml" --data-dir "$DIR/data" | tail -1 | awk '{print $NF}')
python3 - "$PORT" "$TOKEN" "$N" <<'PY'
import http.client, json, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
times = []
for i in range(n):
    body = json.dumps({"id": f"m{i}", "service": "melodia", "kind": "tcp",
                       "target": "127.0.0.1:9", "interval": "1h"})
    t = time.perf_counter()
    c.request("POST", "/api/v1/monitors", body, {"Authorization": f"Bearer {token}",
                                                 "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    times.append(time.perf_counter() - t)
    if r.status != 201:
        sys.exit(f"create {i}: HTTP {r.status}")
tenth = max(1, n // 10)
first, last = sum(times[:tenth]) / tenth, sum(times[-tenth:]) / tenth
print(f"config changes: {n} monitors created through the API; mean per create "
      f"{first*1000:.1f} ms over the first {tenth}, {last*1000:.1f} ms over the last {tenth} "
      f"({last/first:.1f}x)")
PY
