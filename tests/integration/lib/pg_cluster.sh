# pg_cluster.sh: a throw-away PostgreSQL cluster for tests and benches, sourced (not run) as
#   . "$(dirname "$0")/lib/pg_cluster.sh"     (tests)   or   . tests/integration/lib/pg_cluster.sh   (bench)
# pg_start DIR: initdb into DIR/data (UTF8, C locale), pg_ctl on a free loopback port with the unix socket in
# DIR, database "crec"; sets PG_URL (postgresql://...) and PG_PORT. pg_stop stops it (call it from an EXIT trap).
# initdb and pg_ctl refuse to run as root: then they run as the "postgres" user (runuser) and DIR is given to it.
# pg_have: 0 when the server binaries are there (else the caller skips with exit 77).
PG_BIN=""
for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then PG_BIN=$d; fi
done
if [ -z "$PG_BIN" ] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  PG_BIN=$(dirname "$(command -v initdb)")
fi
PG_DIR="" PG_URL="" PG_PORT=""
pg_have() { [ -n "$PG_BIN" ] && { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }; }
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_start() {
  PG_DIR=$1
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -E UTF8 --locale=C -A trust -U crec >"$PG_DIR/initdb.log" 2>&1 || return 1
  PG_PORT=$(pg_free_port)
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${PG_FSYNC:-on}" \
    start >"$PG_DIR/pg_ctl.log" 2>&1 || return 1
  pg_as "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U crec crec 2>>"$PG_DIR/pg_ctl.log" ||
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U crec -d postgres -qc "CREATE DATABASE crec" >>"$PG_DIR/pg_ctl.log" 2>&1 ||
    return 1
  PG_URL="postgresql://crec@127.0.0.1:$PG_PORT/crec"
}
pg_stop() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  fi
}
