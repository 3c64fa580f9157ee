#!/bin/bash
# The Debian package, end to end, on this machine's own Apache (as root):
# build libapache2-mod-auth-entra with dpkg-buildpackage from a copy of the
# tree, check it with lintian (no errors), install it (dpkg -i), a2enmod
# auth_entra, add a site on a free loopback port that protects an echo
# backend with the mock Entra as its authority, apache2ctl configtest, sign
# in once through that Apache with curl, then purge the package again.
#
#   scripts/package-test.sh      (scripts/test.sh runs it as one step)
#
# The machine is left as it was found, on failure too: the package purged,
# the site removed, the modules, sites and confs enabled as before (the
# *-enabled links and /var/lib/apache2's records are restored when anything
# differs), Apache stopped again if it was stopped (reloaded if it ran).
# The system Apache listens on its own ports.conf (port 80) as well.
# A package already installed before the test is refused, not replaced.
#
# Settings: PKGTEST_DIR (default /var/tmp/mod_auth_entra-pkgtest: the copy,
# the build, logs), PKGTEST_BUILD_OPTIONS (DEB_BUILD_OPTIONS for the build,
# default nocheck: scripts/test.sh runs `make unit` itself).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

PKG=libapache2-mod-auth-entra
SITE=entra-package-test
SITE_FILE=/etc/apache2/sites-available/$SITE.conf
DIR=${PKGTEST_DIR:-/var/tmp/mod_auth_entra-pkgtest}
T0=$(date +%s)
STEP=setup

is_root || die "scripts/package-test.sh installs a package into the system Apache: run it as root"
case $DIR in /|/root|/home|/var|/var/tmp|/tmp|/usr*|/etc*|"$ENTRA_TOP") die "refusing PKGTEST_DIR=$DIR" ;; esac
mkdir -p "$(dirname "$DIR")"
exec 8>>"$DIR.lock"
flock -n 8 || { say "another package test is running; waiting for it"; flock 8; }

# shellcheck disable=SC1091
APACHE_PID_FILE=$(set +eu; . /etc/apache2/envvars >/dev/null 2>&1; echo "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}")
apache_running() { lib_pid_alive "$APACHE_PID_FILE" >/dev/null; }

STATE_PATHS=(etc/apache2/mods-enabled etc/apache2/sites-enabled etc/apache2/conf-enabled var/lib/apache2)
state_listing() { (cd / && find "${STATE_PATHS[@]}" -printf '%p %l\n' 2>/dev/null | sort); }

if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qx installed; then
    die "$PKG is already installed on this machine; the test would remove it: refusing"
fi
[ ! -e "$SITE_FILE" ] || die "$SITE_FILE exists (a test that did not clean up?); remove it first"

WAS_RUNNING=
if apache_running; then WAS_RUNNING=1; fi
rm -rf "$DIR/logs" "$DIR/run" "$DIR/secrets" "$DIR"/*.deb "$DIR"/*.changes "$DIR"/*.buildinfo
mkdir -p "$DIR/logs" "$DIR/run" "$DIR/secrets"
state_listing >"$DIR/run/state.before"
tar -C / -cf "$DIR/run/state.tar" "${STATE_PATHS[@]}"

installed=
site_added=
apache_touched=
cleanup() {
    local rc=$? secs
    set +e
    say "cleaning up: leaving the machine as it was"
    if [ -n "$apache_touched" ]; then
        if [ -n "$WAS_RUNNING" ]; then :; elif apache_running; then
            info "stopping the system Apache (it was stopped before)"
            apache2ctl stop >/dev/null 2>&1
            local n=150
            while apache_running && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        fi
    fi
    if [ -n "$site_added" ]; then
        a2dissite -q "$SITE" >/dev/null 2>&1
        rm -f "$SITE_FILE"
    fi
    if [ -n "$installed" ] || dpkg-query -W "$PKG" >/dev/null 2>&1; then
        info "dpkg --purge $PKG"
        dpkg --purge "$PKG" >"$DIR/logs/purge.log" 2>&1 || { cat "$DIR/logs/purge.log"; rc=1; }
    fi
    if ! state_listing | cmp -s - "$DIR/run/state.before"; then
        info "restoring the enabled modules, sites and confs as they were:"
        state_listing | diff "$DIR/run/state.before" - | grep '^[<>]' | sed 's/^/      /'
        (cd / && rm -rf "${STATE_PATHS[@]}" && tar -xpf "$DIR/run/state.tar")
    fi
    if ! state_listing | cmp -s - "$DIR/run/state.before"; then
        warn "the Apache configuration state differs from before the test"; rc=1
    fi
    if [ -n "$WAS_RUNNING" ] && [ -n "$apache_touched" ]; then
        info "reloading the system Apache (it was running before)"
        apache2ctl graceful >/dev/null 2>&1 || { warn "apache2ctl graceful failed"; rc=1; }
    fi
    lib_stop_mock "$DIR"
    rm -rf "$DIR/secrets"
    secs=$(( $(date +%s) - T0 ))
    if [ "$rc" -eq 0 ]; then
        echo "package-test.sh: PASS: built, lintian-clean, installed, enabled, signed in, purged (${secs}s, in $DIR)"
    else
        if [ -s /var/log/apache2/error.log ] && [[ $STEP == sign* || $STEP == start* ]]; then
            echo "--- last 20 lines of /var/log/apache2/error.log ---"
            tail -n 20 /var/log/apache2/error.log
        fi
        echo "package-test.sh: FAIL at step '$STEP' (exit $rc, ${secs}s, in $DIR)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STEP=packages
say "checking packages"
lib_deps

STEP=build
say "building $PKG with dpkg-buildpackage -us -uc -b in $DIR/src (log: $DIR/logs/build.log)"
lib_copy_tree "$ENTRA_TOP" "$DIR/src"
if ! (cd "$DIR/src" && DEB_BUILD_OPTIONS=${PKGTEST_BUILD_OPTIONS-nocheck} \
        dpkg-buildpackage -us -uc -b) >"$DIR/logs/build.log" 2>&1; then
    tail -n 40 "$DIR/logs/build.log"
    die "dpkg-buildpackage failed (log: $DIR/logs/build.log)"
fi
DEB=$(ls "$DIR"/${PKG}_*.deb)
CHANGES=$(ls "$DIR"/${PKG}_*.changes)
info "built $(basename "$DEB")"

STEP=lintian
say "lintian $(basename "$CHANGES")"
if ! lintian --fail-on error "$CHANGES" >"$DIR/logs/lintian.log" 2>&1; then
    cat "$DIR/logs/lintian.log"
    die "lintian reports errors"
fi
grep -v 'running with root privileges' "$DIR/logs/lintian.log" | sed 's/^/    /' || info "lintian: no errors, no warnings"

STEP="dpkg -i"
say "dpkg -i $(basename "$DEB")"
installed=1
dpkg -i "$DEB" >"$DIR/logs/install.log" 2>&1 || { cat "$DIR/logs/install.log"; die "dpkg -i failed"; }
for f in /usr/lib/apache2/modules/mod_auth_entra.so /etc/apache2/mods-available/auth_entra.load \
         /etc/apache2/mods-available/auth_entra.conf; do
    [ -f "$f" ] || die "the package did not install $f"
done

STEP="a2enmod auth_entra"
say "a2enmod auth_entra"
a2enmod auth_entra
DEPENDS=$(sed -n 's/^# Depends:[[:space:]]*//p' /etc/apache2/mods-available/auth_entra.load)
for m in auth_entra $DEPENDS; do
    [ -e "/etc/apache2/mods-enabled/$m.load" ] || die "a2enmod auth_entra did not enable $m"
done
info "enabled: auth_entra and what it depends on ($DEPENDS)"

STEP=ports
# three free loopback ports: the site, the mock Entra, the echo backend
PICKED=()
while [ ${#PICKED[@]} -lt 3 ]; do
    p=$(( 20000 + RANDOM % 20000 ))
    if lib_port_free "$p" && [[ " ${PICKED[*]} " != *" $p "* ]]; then PICKED+=("$p"); fi
done
PORT=${PICKED[0]} MOCK_PORT=${PICKED[1]} BACKEND_PORT=${PICKED[2]}
if ! apache_running; then
    for p in $(sed -n 's/^[[:space:]]*Listen[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' /etc/apache2/ports.conf); do
        [ "$p" = 443 ] && [ ! -e /etc/apache2/mods-enabled/ssl.load ] && continue
        lib_port_free "${p##*:}" ||
            die "port ${p##*:} (Listen in ports.conf) is taken by another program: the system Apache cannot start"
    done
fi

STEP="mock Entra"
lib_start_mock "$DIR" "$MOCK_PORT" "$BACKEND_PORT" "http://127.0.0.1:$PORT/.auth/login/aad/callback"
lib_secret_file "$DIR/secrets/client-secret" "$MOCK_CLIENT_SECRET"
lib_secret_file "$DIR/secrets/session-key"
chmod 750 "$DIR/secrets" && chgrp www-data "$DIR/secrets"

STEP=site
say "site $SITE on 127.0.0.1:$PORT ($SITE_FILE), proxying /app/ to the echo backend"
site_added=1
cat >"$SITE_FILE" <<EOF
# mod_auth_entra's scripts/package-test.sh: removed when the test ends.
Listen 127.0.0.1:$PORT
<VirtualHost 127.0.0.1:$PORT>
    ServerName 127.0.0.1
    EntraTenant       $MOCK_TENANT
    EntraClientID     $MOCK_CLIENT_ID
    EntraClientSecret file:$DIR/secrets/client-secret
    EntraSessionKey   file:$DIR/secrets/session-key
    EntraAuthority    http://127.0.0.1:$MOCK_PORT
    EntraCookieSecure Off

    ProxyPass        /app/ http://127.0.0.1:$BACKEND_PORT/app/
    ProxyPassReverse /app/ http://127.0.0.1:$BACKEND_PORT/app/
    <Location /app/>
        AuthType Entra
        Require valid-user
        RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
    </Location>
</VirtualHost>
EOF
a2enmod -q headers proxy proxy_http
a2ensite -q "$SITE"

STEP="apache2ctl configtest"
say "apache2ctl configtest"
if ! out=$(apache2ctl configtest 2>&1); then
    echo "$out"
    die "apache2ctl configtest failed"
fi
echo "$out" | sed 's/^/    /'

# As root, configtest judges EntraClientAssertionFile as the run user
# (www-data), not as root: a root-only token file is an error naming both.
STEP="configtest: a token file www-data cannot read"
say "apache2ctl configtest with an EntraClientAssertionFile only root can read (must fail)"
echo "not-a-real-token" >"$DIR/secrets/federated-token"
chmod 600 "$DIR/secrets/federated-token"
cp "$SITE_FILE" "$DIR/run/site.conf.good"
sed -i "s|^    EntraClientSecret .*|    EntraClientAssertionFile $DIR/secrets/federated-token|" "$SITE_FILE"
if out=$(apache2ctl configtest 2>&1); then
    cp "$DIR/run/site.conf.good" "$SITE_FILE"
    die "configtest passed with a token file www-data cannot read"
fi
cp "$DIR/run/site.conf.good" "$SITE_FILE"
echo "$out" | grep -q "ENTRA00101.*EntraClientAssertionFile $DIR/secrets/federated-token cannot be read by www-data" ||
    { echo "$out"; die "configtest failed, but not with ENTRA00101 naming the file and www-data"; }
info "refused: $(echo "$out" | grep -o 'cannot be read by www-data[^:]*: [^;]*')"

STEP="start Apache"
apache_touched=1
if [ -n "$WAS_RUNNING" ]; then
    say "apache2ctl graceful (the system Apache was running)"
    apache2ctl graceful
else
    say "apache2ctl start (the system Apache was stopped; it is stopped again at the end)"
    apache2ctl start
fi
lib_wait_port "$PORT" 15 || die "the system Apache does not listen on 127.0.0.1:$PORT"

STEP=sign-in
JAR=$DIR/run/cookies.txt
BODY=$DIR/run/response.json
say "signing in through the system Apache: GET http://127.0.0.1:$PORT/app/hello"
lib_signin "http://127.0.0.1:$PORT/app/hello" "$JAR" "$BODY" || die "the sign-in did not end in 200"
user=$("$PYTHON" - "$BODY" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1])).get("headers", {})
u = [v for k, v in h.items() if k.lower() == "x-remote-user"]
print(u[0] if u else "")
EOF
)
[ -n "$user" ] || die "the echo backend got no X-Remote-User"
info "the backend saw REMOTE_USER=$user"
STEP=finished
