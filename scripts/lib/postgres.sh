# shellcheck shell=bash
# A private PostgreSQL cluster on loopback for the team-catalog tests. Source this file, then
#
#     postgres_start DIR    # initdb + start; exports STOWAGE_TEST_PG_URL and STOWAGE_TEST_PG_BIN
#     postgres_stop         # the caller's EXIT trap runs this
#
# The server refuses to run as root, so as root the cluster belongs to the `postgres` user
# (Debian's postgresql package creates it). Its superuser's password is random, kept only in
# STOWAGE_TEST_PG_URL, and password authentication (scram-sha-256) is required. Tests that
# stop and restart a database start their own cluster with STOWAGE_TEST_PG_BIN.
postgres_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres: no PostgreSQL server found; install it with \`apt-get install -y postgresql\`" >&2
    return 1
  fi
  echo "$bin"
}

# Run a server command as the cluster's owner.
postgres_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  local port="${STOWAGE_TEST_PG_PORT:-55432}" bin password
  bin=$(postgres_bin) || return 1
  export STOWAGE_TEST_PG_BIN="$bin"
  POSTGRES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/stowage-pg.XXXXXX")
  chmod 755 "$POSTGRES_DIR"
  password="pg-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  printf '%s\n' "$password" > "$POSTGRES_DIR/pwfile"
  mkdir -p "$POSTGRES_DIR/data" "$POSTGRES_DIR/run"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$POSTGRES_DIR"
  postgres_as_owner "$bin/initdb" -D "$POSTGRES_DIR/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$POSTGRES_DIR/pwfile" -E UTF8 --locale=C.UTF-8 >"$POSTGRES_DIR/initdb.log" 2>&1 || {
    cat "$POSTGRES_DIR/initdb.log" >&2; return 1; }
  rm -f "$POSTGRES_DIR/pwfile"
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $POSTGRES_DIR/run -c max_connections=200 -c fsync=off" \
    start >/dev/null || { cat "$POSTGRES_DIR/server.log" >&2; return 1; }
  export STOWAGE_TEST_PG_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
}

postgres_stop() {
  [ -n "${POSTGRES_DIR:-}" ] || return 0
  postgres_as_owner "$STOWAGE_TEST_PG_BIN/pg_ctl" -D "$POSTGRES_DIR/data" -m fast -w stop \
    >/dev/null 2>&1 || true
  rm -rf "$POSTGRES_DIR"
  POSTGRES_DIR=
}
