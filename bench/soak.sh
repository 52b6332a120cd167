#!/usr/bin/env bash
# Soak (not a test, not run in CI): one release server under bounded mixed load on loopback
# for a number of minutes, watched for growth. Prints one line a minute (RSS, open fds, p99 of
# page views and of reports, requests, non-2xx) and, at the end, the slope per hour of RSS and
# fds over minutes 5..end and the range of the p99s.
#   bench/soak.sh [minutes, default 30]
# The load (bench/soak_load.py): status page views, JSON and form reports, API reads, an
# incident's life through the API with an editor token. The server also probes a local target
# that fails three minutes in six, and delivers to webhook receivers that answer after 2 s and
# after 8 s (over the 5 s notify timeout) (bench/soak_targets.py). Fresh SQLite data directory.
# Needs python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
source bench/lib.sh
bin=$(release_bin)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

tp=$(free_port); hp=$(free_port); port=$(free_port)
python3 bench/soak_targets.py "$tp" "$hp" & pids+=($!)
wait_http "http://127.0.0.1:$tp/ok"

cat >"$tmp/soak.toml" <<TOML
[server]
trusted_proxies = ["127.0.0.0/8"]
[[service]]
id = "melodia"
name = "Melodia"
[[service.component]]
id = "login"
name = "Login and accounts"
[[service.component]]
id = "playback"
name = "Playback"
[[monitor]]
id = "login-ok"
service = "melodia"
component = "login"
kind = "http"
target = "http://127.0.0.1:$tp/ok"
interval = "5s"
timeout = "2s"
[[monitor]]
id = "playback-flaky"
service = "melodia"
component = "playback"
kind = "http"
target = "http://127.0.0.1:$tp/flaky"
interval = "5s"
timeout = "2s"
expect_status = "200"
[notify]
timeout = "5s"
retry_after = "10s"
[[notify.webhook]]
id = "slow"
url = "http://127.0.0.1:$hp/slow"
secret = "soak secret, sixteen characters or more"
operators = true
concurrency = 2
[[notify.webhook]]
id = "stuck"
url = "http://127.0.0.1:$hp/stuck"
secret = "soak secret, sixteen characters or more"
events = ["incident", "monitor"]
concurrency = 1
TOML
"$bin" config check --config "$tmp/soak.toml" >/dev/null
token=$("$bin" token create --name soak --role editor --config "$tmp/soak.toml" --data-dir "$tmp/data" 2>>"$tmp/token.log" | tail -1 | tr -d '[:space:]')
"$bin" serve --config "$tmp/soak.toml" --data-dir "$tmp/data" --listen "127.0.0.1:$port" 2>"$tmp/serve.log" &
pid=$!; pids+=($pid)
wait_http "http://127.0.0.1:$port/healthz" || { cat "$tmp/serve.log"; exit 1; }
echo "soak: $minutes min, downbeat pid $pid on 127.0.0.1:$port"
python3 bench/soak_load.py "http://127.0.0.1:$port" "$pid" "$minutes" "$token"
echo "webhook deliveries received: $(curl -fsS "http://127.0.0.1:$hp/stats")"
echo "server log: $(grep -c . "$tmp/serve.log") lines, $(grep -ci 'error' "$tmp/serve.log" || true) mentioning errors, $(grep -ci 'panic' "$tmp/serve.log" || true) panics"
grep -i -E 'error|warn' "$tmp/serve.log" | sed -E 's/^[^ ]+ +//; s/[0-9]+/N/g' | cut -c1-150 | sort | uniq -c | sort -rn | head -5 || true
