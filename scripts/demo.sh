#!/bin/bash
# mod_auth_entra demo: builds the module, starts a private Apache that
# reverse-proxies /app/ to an echo app behind "AuthType Entra", signs a user
# in with curl and shows what the app received (REMOTE_USER and claims).
#
#   scripts/demo.sh           (re)start the demo; it keeps running afterwards
#   scripts/demo.sh stop      stop it
#   scripts/demo.sh status    is it running?
#
# By default the identity provider is the mock Entra of the test suite
# (t/mock/mock_entra.py). With ENTRA_TENANT, ENTRA_CLIENT_ID and
# ENTRA_CLIENT_SECRET set, a real Entra tenant is used instead and the script
# prints the URL to open in a browser; then also:
#   ENTRA_REDIRECT_BASE  public base URL of this Apache (default http://localhost:$DEMO_PORT);
#                        register <base>/.auth/login/aad/callback as a Web redirect URI
#   ENTRA_AUTHORITY      default https://login.microsoftonline.com
#   LISTEN_ADDR          address to listen on (default 127.0.0.1)
#
# Other settings: DEMO_DIR (default /var/tmp/mod_auth_entra-demo),
# DEMO_PORT (8080), DEMO_MOCK_PORT (8081), DEMO_BACKEND_PORT (8082),
# MODULE_SO (use this prebuilt module instead of building a copy of the tree).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

DIR=${DEMO_DIR:-/var/tmp/mod_auth_entra-demo}
PORT=${DEMO_PORT:-8080}
MOCK_PORT=${DEMO_MOCK_PORT:-8081}
BACKEND_PORT=${DEMO_BACKEND_PORT:-8082}

demo_stop() {
    lib_apache_stop "$DIR"
    lib_stop_mock "$DIR"
}

case ${1:-start} in
    stop)
        if lib_pid_alive "$DIR/run/httpd.pid" >/dev/null || lib_pid_alive "$DIR/run/mock.pid" >/dev/null; then
            say "stopping the demo ($DIR)"
            demo_stop
            say "demo stopped"
        else
            say "no demo running ($DIR)"
        fi
        exit 0 ;;
    status)
        if pid=$(lib_pid_alive "$DIR/run/httpd.pid"); then echo "Apache: running (pid $pid), http://127.0.0.1:$PORT/app/"; else echo "Apache: stopped"; fi
        if pid=$(lib_pid_alive "$DIR/run/mock.pid"); then echo "mock Entra + echo app: running (pid $pid)"; else echo "mock Entra + echo app: stopped"; fi
        exit 0 ;;
    start) ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac

if [ -n "${ENTRA_TENANT:-}" ] && [ -n "${ENTRA_CLIENT_ID:-}" ] && [ -n "${ENTRA_CLIENT_SECRET:-}" ]; then
    MODE=real
else
    MODE=mock
    for v in ENTRA_TENANT ENTRA_CLIENT_ID ENTRA_CLIENT_SECRET; do
        [ -z "${!v:-}" ] || warn "$v is set but not all of ENTRA_TENANT, ENTRA_CLIENT_ID, ENTRA_CLIENT_SECRET are: using the mock Entra"
    done
fi

# Leave nothing half-started behind when a step fails.
started=
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "$started" ]; then
        if [ -s "$DIR/logs/error_log" ]; then
            echo "--- last lines of $DIR/logs/error_log ---" >&2
            tail -n 30 "$DIR/logs/error_log" >&2
        fi
        say "demo failed; stopping what it started (logs stay in $DIR/logs)"
        demo_stop
    fi
}
trap on_exit EXIT

say "mod_auth_entra demo ($MODE Entra) in $DIR"
if lib_pid_alive "$DIR/run/httpd.pid" >/dev/null || lib_pid_alive "$DIR/run/mock.pid" >/dev/null; then
    say "stopping the previous demo"
    demo_stop
fi

say "checking packages"
lib_deps

lib_module_so "$DIR/build"
SO=$BUILT_SO

mkdir -p "$DIR/conf" "$DIR/htdocs" "$DIR/logs" "$DIR/run"
rm -f "$DIR"/logs/*
started=1

lib_start_mock "$DIR" "$MOCK_PORT" "$BACKEND_PORT" \
    "http://127.0.0.1:$PORT/.auth/login/aad/callback" "http://127.0.0.1:$PORT/"
[ "$MODE" = mock ] || info "(only its echo app is used: the identity provider is the real Entra)"

if [ "$MODE" = real ]; then
    AUTHORITY=${ENTRA_AUTHORITY:-https://login.microsoftonline.com}
    BASE=${ENTRA_REDIRECT_BASE:-http://localhost:$PORT}
    BASE=${BASE%/}
    TENANT=$ENTRA_TENANT
    CLIENT_ID=$ENTRA_CLIENT_ID
    lib_secret_file "$DIR/conf/client_secret" "$ENTRA_CLIENT_SECRET"
    case $BASE in https://*) SECURE=On ;; *) SECURE=Off ;; esac
    REDIRECT="EntraRedirectURI $BASE/.auth/login/aad/callback"
else
    AUTHORITY=http://127.0.0.1:$MOCK_PORT
    BASE=http://127.0.0.1:$PORT
    TENANT=$MOCK_TENANT
    CLIENT_ID=$MOCK_CLIENT_ID
    lib_secret_file "$DIR/conf/client_secret" "$MOCK_CLIENT_SECRET"
    SECURE=Off
    REDIRECT="# EntraRedirectURI: the default, /.auth/login/aad/callback"
fi
lib_secret_file "$DIR/conf/session.key"

cat >"$DIR/htdocs/index.html" <<EOF
<!doctype html><title>mod_auth_entra demo</title>
<p>mod_auth_entra demo. The protected app is at <a href="/app/">/app/</a>;
sign out at <a href="/.auth/logout">/.auth/logout</a>.</p>
EOF

{
    lib_httpd_conf "$DIR" "$PORT"
    cat <<EOF
CustomLog "$DIR/logs/access_log" common

LoadModule auth_entra_module $SO

EntraTenant $TENANT
EntraClientID $CLIENT_ID
EntraClientSecret file:$DIR/conf/client_secret
EntraAuthority $AUTHORITY
EntraSessionKey file:$DIR/conf/session.key
EntraCookieSecure $SECURE
$REDIRECT

# The sample app: an echo service that shows what it received.
ProxyPass        /app/ http://127.0.0.1:$BACKEND_PORT/app/
ProxyPassReverse /app/ http://127.0.0.1:$BACKEND_PORT/app/
<Location /app/>
    AuthType Entra
    Require valid-user
    RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
</Location>
EOF
} >"$DIR/conf/httpd.conf"

lib_apache_start "$DIR" "$PORT"

if [ "$MODE" = real ]; then
    cat <<EOF

==> The demo runs against Entra tenant $TENANT.
    In the app registration ($CLIENT_ID), add this Web redirect URI:
        $BASE/.auth/login/aad/callback
    Then open in a browser:
        $BASE/app/
    (Apache listens on ${LISTEN_ADDR:-127.0.0.1}:$PORT; $BASE must reach it.)
    The page shows the JSON the app received: X-Remote-User and the X-Entra-Claim-* headers.

    Sign out:  $BASE/.auth/logout
    Logs:      $DIR/logs/error_log, $DIR/logs/access_log
    Stop:      scripts/demo.sh stop
EOF
    exit 0
fi

JAR=$DIR/cookies.txt
BODY=$DIR/run/response.json
rm -f "$JAR"
say "signing in with curl, as a browser would: GET $BASE/app/hello?demo=1"
if ! lib_signin "$BASE/app/hello?demo=1" "$JAR" "$BODY"; then
    die "the sign-in did not end in 200"
fi

say "signed in; the app behind Apache (echo service on 127.0.0.1:$BACKEND_PORT) received:"
"$PYTHON" - "$BODY" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit("the app's answer is not the echo service's JSON")
headers = d.get("headers", {})
def show(v):
    return ", ".join(v) if isinstance(v, list) else v
print("    %s %s%s" % (d.get("method"), d.get("path"), "?" + d["query"] if d.get("query") else ""))
user = [v for k, v in headers.items() if k.lower() == "x-remote-user"]
print("    REMOTE_USER = %s" % (show(user[0]) if user else "(missing!)"))
claims = sorted((k, v) for k, v in headers.items() if k.lower().startswith("x-entra-claim-"))
print("    claims (%d X-Entra-Claim-* headers):" % len(claims))
width = max([len(k) + 1 for k, _ in claims] or [0])
for k, v in claims:
    print("      %-*s  %s" % (width, k + ":", show(v)))
if not user or not user[0]:
    sys.exit("REMOTE_USER did not reach the app")
EOF

# A second request with the session cookie only: no trip to Entra.
code=$(curl -sS --max-time 10 -o /dev/null -b "$JAR" -w '%{http_code}' "$BASE/app/again")
say "a second request with the session cookie: HTTP $code (no redirect to Entra)"
[ "$code" = 200 ] || die "the session cookie did not work on a second request"

cat <<EOF

==> The demo is running.
    App:       $BASE/app/   (signed-in cookie jar: $JAR)
               curl -b $JAR $BASE/app/
    Sign out:  $BASE/.auth/logout
    Config:    $DIR/conf/httpd.conf
    Logs:      $DIR/logs/error_log, $DIR/logs/access_log, $DIR/logs/mock.log
    Stop:      scripts/demo.sh stop
EOF
