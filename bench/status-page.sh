#!/usr/bin/env bash
# Benchmark (not a test): the status page under a flash crowd, against nginx serving the
# same bytes as a static file, in one run. Prints req/s and p99 of each run and the ratio.
#   bench/status-page.sh [seconds per run, default 6] [connections, default 64]
# Needs wrk and nginx (Debian packages; installed if missing). Fresh SQLite data directory.
# wrk sends no Accept-Encoding, so both servers send the identity body.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-6}; conns=${2:-64}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
source bench/lib.sh
bin=$(release_bin)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

cat >"$tmp/bench.toml" <<'TOML'
[server]
trusted_proxies = ["127.0.0.0/8"]
[[service]]
id = "melodia"
name = "Melodia"
tips = ["Check whether other apps can reach the internet.", "Log out and back in, then restart the app."]
[[service.component]]
id = "login"
name = "Login and accounts"
[[service.component]]
id = "playback"
name = "Playback"
TOML
port=$(free_port)
"$bin" serve --config "$tmp/bench.toml" --data-dir "$tmp/data" --listen "127.0.0.1:$port" 2>"$tmp/serve.log" &
pids+=($!)
wait_http "http://127.0.0.1:$port/healthz" || { cat "$tmp/serve.log"; exit 1; }
base=http://127.0.0.1:$port

# Some reports, each from its own address, so the page has a chart, breakdowns and a map.
python3 - "$port" <<'PY'
import concurrent.futures as cf, http.client, json, sys
port = int(sys.argv[1])
def post(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"problem": ["login", "playback", "playlists"][n % 3],
                       "platform": ["ios", "android", "desktop", "web"][n % 4],
                       "country": ["GB", "US", "DE", "JP", "BR"][n % 5]})
    c.request("POST", "/api/v1/services/melodia/reports", body,
              {"Content-Type": "application/json", "X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"})
    return c.getresponse().status
with cf.ThreadPoolExecutor(16) as ex:
    codes = list(ex.map(post, range(300)))
print(f"posted {len(codes)} reports: {codes.count(202)} accepted")
PY
sleep 3   # the pages refresh within about a second of new data

mkdir -p "$tmp/www"
chmod 755 "$tmp" "$tmp/www"   # nginx's workers run as www-data when started as root
curl -fsS "$base/s/melodia" -o "$tmp/www/index.html"
chmod 644 "$tmp/www/index.html"
nport=$(free_port)
static_nginx "$tmp" "$nport" auto
echo "page: $(wc -c <"$tmp/www/index.html") bytes identity; gzip $(curl -fsS -H 'Accept-Encoding: gzip' "$base/s/melodia" | wc -c), br $(curl -fsS -H 'Accept-Encoding: br' "$base/s/melodia" | wc -c)"

wrk -t1 -c"$conns" -d2s "$base/s/melodia" >/dev/null
wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$nport/" >/dev/null
for k in 1 2; do
  wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$nport/" >"$tmp/nginx$k.txt"
  wrk -t1 -c"$conns" -d"${secs}s" --latency "$base/s/melodia" >"$tmp/downbeat$k.txt"
done
python3 - "$tmp" <<'PY'
import re, sys
def parse(path):
    t = open(path).read()
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
    p99 = re.search(r"^\s*99%\s+(\S+)", t, re.M).group(1)
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
    return rate, p99, int(bad.group(1)) if bad else 0
def ms(s):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
d = [parse(f"{sys.argv[1]}/downbeat{k}.txt") for k in (1, 2)]
n = [parse(f"{sys.argv[1]}/nginx{k}.txt") for k in (1, 2)]
for k in range(2):
    print(f"run {k + 1}: downbeat {d[k][0]:,.0f} req/s p99 {d[k][1]} (non-2xx {d[k][2]}) | nginx {n[k][0]:,.0f} req/s p99 {n[k][1]}")
ratio = sum(x[0] for x in d) / sum(x[0] for x in n)
p99d = max(ms(x[1]) for x in d); p99n = max(ms(x[1]) for x in n)
print(f"ratio downbeat/nginx: {ratio:.2f}x; worst p99 downbeat {p99d:.2f} ms vs nginx {p99n:.2f} ms")
PY
