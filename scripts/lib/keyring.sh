# shellcheck shell=bash
# Real credential stores for the keyring tests. Source this file, then
#
#     with_keyrings cargo test -p stowage --test secrets
#
# runs the command inside a private kernel session keyring (keyutils, `keyctl session`) and a
# private D-Bus session bus with an unlocked GNOME Keyring answering as the Secret Service,
# so `STOWAGE_KEYRING=keyutils` and `STOWAGE_KEYRING=secret-service` both reach a real store.
# The keyring daemon keeps its files in a temporary folder (its own HOME and XDG_* only: the
# command keeps the caller's HOME, so rustup and cargo are unaffected); the folder is removed
# afterwards. Needs the Debian packages gnome-keyring, dbus (dbus-run-session) and keyutils;
# this file installs nothing.

with_keyrings() {
    if [ "$#" -eq 0 ]; then
        echo "usage: with_keyrings COMMAND [ARG...]" >&2
        return 2
    fi
    local tool
    for tool in keyctl dbus-run-session gnome-keyring-daemon; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "with_keyrings: \`$tool\` is missing; install it with" \
                "\`apt-get install -y --no-install-recommends gnome-keyring dbus keyutils\`" >&2
            return 127
        fi
    done
    local dir rc
    dir="$(mktemp -d "${TMPDIR:-/tmp}/stowage-keyrings.XXXXXX")" || return 1
    chmod 700 "$dir"
    STOWAGE_KEYRINGS_DIR="$dir" keyctl session - dbus-run-session -- bash -c '
        dir="$STOWAGE_KEYRINGS_DIR"
        unset STOWAGE_KEYRINGS_DIR
        mkdir -p "$dir/home" "$dir/data" "$dir/config" "$dir/cache" "$dir/runtime"
        chmod 700 "$dir/runtime"
        # The daemon alone gets the private folders; it unlocks a fresh login keyring with this
        # throwaway password and claims org.freedesktop.secrets on this bus. It runs in the
        # foreground under a loop that starts it again (unlocked, same folders) should it ever
        # end; the bus would otherwise activate a stock daemon on the caller'"'"'s HOME, whose
        # keyring has no default collection, and every later test would read "locked".
        priv=(HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config"
            XDG_CACHE_HOME="$dir/cache" XDG_RUNTIME_DIR="$dir/runtime")
        dbus-update-activation-environment "${priv[@]}" 2>/dev/null || true
        (
            trap "kill \$daemon 2>/dev/null; exit 0" TERM
            while :; do
                printf %s stowage-test-keyring | env "${priv[@]}" gnome-keyring-daemon \
                    --foreground --replace --unlock --components=secrets \
                    >>"$dir/daemon.log" 2>&1 &
                daemon=$!
                wait "$daemon"
                echo "with_keyrings: gnome-keyring-daemon ended; starting it again" >&2
                sleep 0.2
            done
        ) &
        keeper=$!
        for _ in $(seq 100); do
            # Asked only once the name has an owner: asking earlier would activate one.
            dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
                grep -q true &&
                dbus-send --session --print-reply --dest=org.freedesktop.secrets \
                    /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias \
                    string:default 2>/dev/null | grep -q collection/login && break
            sleep 0.1
        done
        if ! kill -0 "$keeper" 2>/dev/null; then
            echo "with_keyrings: gnome-keyring-daemon did not start" >&2
            exit 1
        fi
        rc=0
        "$@" || rc=$?
        kill "$keeper" 2>/dev/null
        wait "$keeper" 2>/dev/null
        exit "$rc"
    ' with_keyrings "$@"
    rc=$?
    rm -rf "$dir"
    return "$rc"
}
