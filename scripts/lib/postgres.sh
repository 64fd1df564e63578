# shellcheck shell=bash
# A private PostgreSQL cluster on loopback for the team-catalog tests. Source this file, then
#
#     postgres_start DIR    # initdb + start; exports STOWAGE_TEST_PG_URL and STOWAGE_TEST_PG_BIN
#     postgres_stop         # the caller's EXIT trap runs this
#
# The server refuses to run as root, so as root the cluster belongs to the `postgres` user
# (Debian's postgresql package creates it). Its superuser's password is random, kept only in
# STOWAGE_TEST_PG_URL, and password authentication (scram-sha-256) is required. TLS is on,
# with a certificate for localhost and 127.0.0.1 from a throwaway CA (the CA's PEM path in
# STOWAGE_TEST_PG_CA), and the role `tls_only` may connect only over TLS. Tests that stop and
# restart a database start their own cluster with STOWAGE_TEST_PG_BIN.
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
  # A throwaway CA, and the server's certificate it signs.
  if ! (cd "$POSTGRES_DIR" &&
    openssl req -new -x509 -days 2 -nodes -subj /CN=stowage-test-ca -keyout ca.key -out ca.crt &&
    openssl req -new -nodes -subj /CN=localhost -keyout server.key -out server.csr &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >server.ext &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt) >/dev/null 2>&1; then
    echo "postgres: openssl could not make a certificate; install it with \`apt-get install -y openssl\`" >&2
    return 1
  fi
  chmod 600 "$POSTGRES_DIR/server.key"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$POSTGRES_DIR/server.key" "$POSTGRES_DIR/server.crt"
  export STOWAGE_TEST_PG_CA="$POSTGRES_DIR/ca.crt"
  # The first matching line decides: `tls_only` without TLS is turned away.
  postgres_as_owner sed -i '1i hostnossl all tls_only 0.0.0.0/0 reject' "$POSTGRES_DIR/data/pg_hba.conf"
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $POSTGRES_DIR/run -c max_connections=200 -c fsync=off -c ssl=on -c ssl_cert_file=$POSTGRES_DIR/server.crt -c ssl_key_file=$POSTGRES_DIR/server.key" \
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
