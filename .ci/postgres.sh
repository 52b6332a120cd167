# Sourced by .ci/run (and handy by hand): a throwaway PostgreSQL cluster on a free loopback
# port, owned by the postgres user, removed by pg_stop. Sets DOWNBEAT_TEST_POSTGRES_URL.
#   source .ci/postgres.sh && pg_start && cargo nextest run ... ; pg_stop
pg_start() {
  local bindir
  bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
  [ -x "$bindir/initdb" ] || { echo "no PostgreSQL server binaries; apt-get install postgresql" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/downbeat-pg.XXXXXX)
  chown postgres "$PG_DIR"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  su postgres -s /bin/sh -c "$bindir/initdb -D $PG_DIR/data -U postgres --auth=trust -E UTF8 >/dev/null"
  su postgres -s /bin/sh -c "$bindir/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w \
    -o '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300' start >/dev/null"
  PG_BINDIR=$bindir
  export DOWNBEAT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL test cluster at $DOWNBEAT_TEST_POSTGRES_URL"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  su postgres -s /bin/sh -c "$PG_BINDIR/pg_ctl -D $PG_DIR/data -m fast stop >/dev/null" || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
