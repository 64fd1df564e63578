# shellcheck shell=bash
# The desktop app's window (ui/): installed from the lockfile when node_modules is missing or
# older than it, then built into ui/dist, which the app binary embeds. Sourced by scripts/test
# and .ci/run.
ui_build() {
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    touch ui/node_modules
  fi
  (cd ui && npm run --silent build -- --logLevel warn)
}
