# Sourced by the bench scripts: what every one of them needs. Run from the project root.

# Builds the release binary and prints its path.
release_bin() {
  cargo build --release --bin downbeat -q
  echo "$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/downbeat"
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 30 s for URL to answer 2xx.
wait_http() { for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# nginx serving DIR/www on 127.0.0.1:PORT with WORKERS workers (its files under DIR/nginx);
# its pid joins the caller's `pids`. DIR must be readable by nginx's workers (www-data when
# started as root).
static_nginx() { # DIR PORT WORKERS
  mkdir -p "$1/nginx"
  cat >"$1/nginx/nginx.conf" <<CONF
worker_processes $3; pid $1/nginx/nginx.pid; error_log $1/nginx/error.log; daemon off;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$2; root $1/www; location / { index index.html; } } }
CONF
  nginx -c "$1/nginx/nginx.conf" -p "$1/nginx" & pids+=($!)
  wait_http "http://127.0.0.1:$2/" || { cat "$1/nginx/error.log"; return 1; }
}
