#!/bin/bash
# mod_auth_entra benchmark: requests per second, with wrk on loopback, for the
# same 1 KB static file served by one Apache (mpm_event)
#   (a) bare, no authentication (the same request headers, cookie included), and
#   (b) behind mod_auth_entra: a signed-in session cookie (cookie store), an
#       API call with a bearer token, a session in shmcb and one in Redis
#       (when redis-server is installed; the bench starts its own),
# and, when libapache2-mod-auth-openidc is installed, in a second Apache
#   (c) behind mod_auth_openidc signed in, with its shm session cache and then
#       with client-cookie sessions,
# all against the mock Entra (t/mock/mock_entra.py), in one run. Prints each
# figure and its ratio to (a), with the targets: cookie >= 0.95, bearer
# >= 0.95, shmcb >= 0.92, redis >= 0.80 (BENCH_STRICT holds the cookie one),
# and (a) measured a second time, in its own turn of each round: how far
# that ratio is from 1.00 is how far this run's noise alone moves a ratio.
#
# Settings (environment):
#   DURATION (wrk -d, default 5s), WARMUP (2s), THREADS (2), CONNECTIONS (50)
#   ROUNDS (5): measure every mode this often, each round in an order one
#       mode further on, with sessions signed in afresh (as a browser takes
#       the cookie the module renews), and report the medians; on a virtual
#       machine two runs of the same thing differ by a tenth either way, so
#       one round says little (about 5 minutes with the default 5 rounds)
#   KEEPALIVE_REQUESTS (100, Apache's default MaxKeepAliveRequests; 0 = unlimited)
#   OPENIDC=0: skip mod_auth_openidc;  BENCH_STRICT=1: exit 1 below the target
#   BENCH_DIR (/var/tmp/mod_auth_entra-bench), BENCH_PORT (28080),
#   BENCH_OIDC_PORT (28081), BENCH_MOCK_PORT (28090), BENCH_BACKEND_PORT (28091),
#   BENCH_SHM_PORT (28082), BENCH_REDIS_HTTP_PORT (28083), BENCH_REDIS_PORT (28092)
#   MODULE_SO: a prebuilt module instead of building a copy of the tree
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"

DIR=${BENCH_DIR:-/var/tmp/mod_auth_entra-bench}
PORT=${BENCH_PORT:-28080}
OIDC_PORT=${BENCH_OIDC_PORT:-28081}
MOCK_PORT=${BENCH_MOCK_PORT:-28090}
BACKEND_PORT=${BENCH_BACKEND_PORT:-28091}
SHM_PORT=${BENCH_SHM_PORT:-28082}
REDIS_HTTP_PORT=${BENCH_REDIS_HTTP_PORT:-28083}
REDIS_PORT=${BENCH_REDIS_PORT:-28092}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
ROUNDS=${ROUNDS:-5}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-100}
TARGET=0.95
FILE=1k.txt

ENTRA=$DIR/entra        # instance (a)+(b)
OIDC=$DIR/openidc       # instance (c)
FILES=$DIR/files        # the one static file all of them serve

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -d "$DIR" ]; then
        say "cleaning up"
        lib_apache_stop "$ENTRA"
        lib_apache_stop "$OIDC"
        lib_stop_mock "$DIR"
        [ -z "${REDIS_PID:-}" ] || kill "$REDIS_PID" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# seconds SPEC: wrk's duration spec (10, 10s, 2m, 1h) in seconds.
seconds() {
    case $1 in
        *h) echo $(( ${1%h} * 3600 )) ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *)  echo "$1" ;;
    esac
}
WRK_CAP=$(( $(seconds "$DURATION") + $(seconds "$WARMUP") + 60 ))

# non200 ROOT: how many responses ROOT's instance answered with another status than 200.
non200() { if [ -f "$1/logs/non200_log" ]; then wc -l <"$1/logs/non200_log"; else echo 0; fi; }

# apache_cpu ROOT: CPU clock ticks (user + system) ROOT's Apache has used:
# its parent, the children it has reaped, and its live children. CPU per
# request moves far less with other load on the machine than req/s does.
apache_cpu() {
    local ppid f stat ticks=0 a
    ppid=$(cat "$1/run/httpd.pid")
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        read -ra a <<<"${stat##*) }"    # a[0]=state a[1]=ppid a[11..14]=utime stime cutime cstime
        if [ "${a[1]}" = "$ppid" ]; then
            ticks=$((ticks + a[11] + a[12]))
        elif [ "$f" = "/proc/$ppid/stat" ]; then
            ticks=$((ticks + a[11] + a[12] + a[13] + a[14]))
        fi
    done
    echo "$ticks"
}
CLK_TCK=$(getconf CLK_TCK)

# measure NAME ROUND ROOT URL [HEADER]: warm up, then one wrk run; prints
# req/s. HEADER is a whole header line ("Cookie: ...", "Authorization:
# Bearer ..."). Every answer must be 200: a 302 to the sign-in would measure
# the wrong thing. (Runs in a command substitution: results go to files.)
measure() {
    local name=$1 round=$2 root=$3 url=$4 header=${5:-} before after rps out cpu0 cpu1
    local hdr=()
    [ -z "$header" ] || hdr=(-H "$header")
    timeout "$WRK_CAP" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${hdr[@]}" "$url" >/dev/null
    before=$(non200 "$root")
    out=$DIR/logs/wrk-$name-$round.txt
    cpu0=$(apache_cpu "$root")
    timeout "$WRK_CAP" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "${hdr[@]}" "$url" >"$out"
    cpu1=$(apache_cpu "$root")
    after=$(non200 "$root")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    [ -n "$rps" ] || { cat "$out" >&2; die "no Requests/sec in wrk's output ($name)"; }
    # Apache's CPU microseconds per request, kept for the report
    awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" '/ requests in / && $1 > 0 { printf "%.1f\n", t * 1e6 / hz / $1 }' \
        "$out" >>"$DIR/run/cpu-$name"
    if [ "$after" -ne "$before" ]; then
        warn "$name: $((after - before)) answers were not 200, e.g.: $(tail -n 1 "$root/logs/non200_log")"
        echo "$name" >>"$DIR/run/invalid"
    fi
    if grep -q 'Non-2xx' "$out"; then
        warn "$name: wrk reports $(grep 'Non-2xx' "$out" | tr -s ' ')"
        echo "$name" >>"$DIR/run/invalid"
    fi
    echo "$rps"
}

# check URL [HEADER]: one request must answer 200 with the file's bytes.
check() {
    local url=$1 header=${2:-} code
    local hdr=()
    [ -z "$header" ] || hdr=(-H "$header")
    code=$(curl -sS --max-time 10 "${hdr[@]}" -o "$DIR/run/check.out" -w '%{http_code}' "$url")
    if [ "$code" != 200 ] || ! cmp -s "$DIR/run/check.out" "$FILES/$FILE"; then
        die "GET $url answered $code, not 200 with the 1 KB file"
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# median: of the rounds, what the machine's slow or fast spells (other
# virtual machines on its host) move least; the mean of the middle two
# when there is an even number
median() { sort -g | awk '{ v[n++] = $1 } END { printf "%.2f", (n ? (v[int((n - 1) / 2)] + v[int(n / 2)]) / 2 : 0) }'; }

# instance_conf ROOT PORT: the part every instance shares.
instance_conf() {
    lib_httpd_conf "$1" "$2"
    cat <<EOF
# Only answers other than 200 are logged: the bench checks there are none.
CustomLog "$1/logs/non200_log" "%>s %m %U" "expr=%{REQUEST_STATUS} != 200"
<Directory "$FILES">
    Options None
    AllowOverride None
    Require all granted
</Directory>
Alias /bare/ "$FILES/"
# Apache's (and Debian's) default; 0 = unlimited takes connection set-up out.
MaxKeepAliveRequests $KEEPALIVE_REQUESTS
EOF
}

# ------------------------------------------------------------------ set up
say "mod_auth_entra benchmark in $DIR"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    warn "load average $LOAD1 on $(nproc) CPUs: other work on this machine makes the figures noisy (more ROUNDS help)"
fi
lib_stop_mock "$DIR" 2>/dev/null || true   # leftovers of an interrupted run
lib_apache_stop "$ENTRA" 2>/dev/null || true
lib_apache_stop "$OIDC" 2>/dev/null || true
say "checking packages"
lib_deps

mkdir -p "$DIR"
rm -rf "$ENTRA" "$OIDC" "$FILES" "$DIR/logs" "$DIR/run"
mkdir -p "$ENTRA"/{conf,htdocs,logs,run} "$OIDC"/{conf,htdocs,logs,run} "$FILES" "$DIR/logs" "$DIR/run"
lib_module_so "$DIR/build"
SO=$BUILT_SO

"$PYTHON" -c 'import sys; line = b"mod_auth_entra benchmark: the same 1 KB file, bare and signed in.\n"; sys.stdout.buffer.write((line * 20)[:1024])' >"$FILES/$FILE"
[ "$(wc -c <"$FILES/$FILE")" -eq 1024 ] || die "could not write the 1 KB file"

# the app registration's redirect URIs: every instance the bench signs in to
lib_start_mock "$DIR" "$MOCK_PORT" "$BACKEND_PORT" \
    "http://127.0.0.1:$PORT/.auth/login/aad/callback" \
    "http://127.0.0.1:$SHM_PORT/.auth/login/aad/callback" \
    "http://127.0.0.1:$REDIS_HTTP_PORT/.auth/login/aad/callback" \
    "http://127.0.0.1:$OIDC_PORT/openidc/redirect_uri"
REDIS_SERVER=$(command -v redis-server || true)
if [ -n "$REDIS_SERVER" ]; then
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        >"$DIR/logs/redis.log" 2>&1 &
    REDIS_PID=$!
fi
AUTHORITY=http://127.0.0.1:$MOCK_PORT
lib_secret_file "$ENTRA/conf/session.key"

# ------------------------------------------------- (a) bare, (b) mod_auth_entra
{
    instance_conf "$ENTRA" "$PORT"
    cat <<EOF

LoadModule auth_entra_module $SO
EntraTenant $MOCK_TENANT
EntraClientID $MOCK_CLIENT_ID
EntraClientSecret "$MOCK_CLIENT_SECRET"
EntraAuthority $AUTHORITY
EntraSessionKey file:$ENTRA/conf/session.key
EntraCookieSecure Off

Alias /entra/ "$FILES/"
<Location /entra/>
    AuthType Entra
    Require valid-user
</Location>
Alias /entra-api/ "$FILES/"
<Location /entra-api/>
    AuthType Entra-Bearer
    Require valid-user
</Location>

# the same app with server-side sessions: shmcb, and Redis when there is one
LoadModule socache_shmcb_module $(lib_moddir)/mod_socache_shmcb.so
Listen 127.0.0.1:$SHM_PORT
<VirtualHost 127.0.0.1:$SHM_PORT>
    EntraSessionStore socache shmcb
</VirtualHost>
EOF
    if [ -n "$REDIS_SERVER" ]; then
        cat <<EOF
LoadModule socache_redis_module $(lib_moddir)/mod_socache_redis.so
Listen 127.0.0.1:$REDIS_HTTP_PORT
<VirtualHost 127.0.0.1:$REDIS_HTTP_PORT>
    EntraSessionStore socache redis:127.0.0.1:$REDIS_PORT
</VirtualHost>
EOF
    fi
} >"$ENTRA/conf/httpd.conf"
lib_apache_start "$ENTRA" "$PORT"

# session PORT NAME: a signed-in Cookie header for the vhost on PORT
session() {
    local jar=$DIR/run/$2-cookies.txt
    rm -f "$jar"
    lib_signin "http://127.0.0.1:$1/entra/$FILE" "$jar" "$DIR/run/signin-$2.out" >&2 ||
        die "sign-in to mod_auth_entra ($2 sessions) failed (log: $ENTRA/logs/error_log)"
    lib_cookie_header "$jar"
}
# sign_in: fresh sessions for a round. A browser takes the cookie the
# module sends once a tenth of EntraSessionInactivityTimeout has passed
# (6 minutes by default) and sends that one from then on; wrk keeps
# sending the first, which the module would seal again on every request
# of a run longer than that. A sign-in each round keeps every round a
# browser's.
sign_in() {
    ENTRA_COOKIE=$(session "$PORT" entra)
    SHM_COOKIE=$(session "$SHM_PORT" shmcb)
    REDIS_COOKIE=
    [ -z "$REDIS_SERVER" ] || REDIS_COOKIE=$(session "$REDIS_HTTP_PORT" redis)
}

say "signing in to mod_auth_entra with curl"
sign_in
check "http://127.0.0.1:$PORT/bare/$FILE"
check "http://127.0.0.1:$PORT/entra/$FILE" "Cookie: $ENTRA_COOKIE"
BEARER=$(curl -sS --max-time 10 "$AUTHORITY/_mock/api_token") || die "no access token from the mock"
check "http://127.0.0.1:$PORT/entra-api/$FILE" "Authorization: Bearer $BEARER"
check "http://127.0.0.1:$SHM_PORT/entra/$FILE" "Cookie: $SHM_COOKIE"
[ -z "$REDIS_COOKIE" ] || check "http://127.0.0.1:$REDIS_HTTP_PORT/entra/$FILE" "Cookie: $REDIS_COOKIE"
# and without the cookie it must not be served
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/entra/$FILE")
[ "$code" = 302 ] || die "without a cookie /entra/ answered $code, not 302"
info "session cookie: ${#ENTRA_COOKIE} bytes"

bare=() bare_again=() bare_bearer=() entra=() bearer=() shmcb=() redis=()
# run_mode MODE ROUND: one measurement of MODE, kept in the array of its
# name. The same Cookie header both ways (bare and signed in), as a browser
# sends it to every path of the site: the difference is the module's work
# alone; the bearer call is measured against bare with the same
# Authorization header.
run_mode() {
    local label url header
    case $1 in
        bare)        label="bare:                    " url="http://127.0.0.1:$PORT/bare/$FILE"
                     header="Cookie: $ENTRA_COOKIE" ;;
        bare-again)  label="bare again:              " url="http://127.0.0.1:$PORT/bare/$FILE"
                     header="Cookie: $ENTRA_COOKIE" ;;
        entra)       label="mod_auth_entra signed in:" url="http://127.0.0.1:$PORT/entra/$FILE"
                     header="Cookie: $ENTRA_COOKIE" ;;
        bare-bearer) label="bare, with that token:   " url="http://127.0.0.1:$PORT/bare/$FILE"
                     header="Authorization: Bearer $BEARER" ;;
        bearer)      label="mod_auth_entra bearer:   " url="http://127.0.0.1:$PORT/entra-api/$FILE"
                     header="Authorization: Bearer $BEARER" ;;
        shmcb)       label="mod_auth_entra shmcb:    " url="http://127.0.0.1:$SHM_PORT/entra/$FILE"
                     header="Cookie: $SHM_COOKIE" ;;
        redis)       label="mod_auth_entra redis:    " url="http://127.0.0.1:$REDIS_HTTP_PORT/entra/$FILE"
                     header="Cookie: $REDIS_COOKIE" ;;
    esac
    local -n kept=${1//-/_}
    kept+=("$(measure "$1" "$2" "$ENTRA" "$url" "$header")")
    info "$label ${kept[-1]} req/s"
}
# bare again half a round away from bare: the two differ by the noise alone
MODES=(bare entra bare-bearer bare-again bearer shmcb)
[ -z "$REDIS_COOKIE" ] || MODES+=(redis)
for r in $(seq 1 "$ROUNDS"); do
    say "round $r/$ROUNDS: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after a $WARMUP warm-up)"
    [ "$r" -eq 1 ] || sign_in
    # each round starts one mode further on: a machine that slows down or
    # speeds up during a round favours no mode round after round
    for i in "${!MODES[@]}"; do
        run_mode "${MODES[$(( (i + r - 1) % ${#MODES[@]} ))]}" "$r"
    done
done
BARE=$(printf '%s\n' "${bare[@]}" | median)
BARE_AGAIN=$(printf '%s\n' "${bare_again[@]}" | median)
ENTRA_RPS=$(printf '%s\n' "${entra[@]}" | median)
BEARER_RPS=$(printf '%s\n' "${bearer[@]}" | median)
BARE_BEARER=$(printf '%s\n' "${bare_bearer[@]}" | median)
SHM_RPS=$(printf '%s\n' "${shmcb[@]}" | median)
REDIS_RPS=$(printf '%s\n' ${redis[@]+"${redis[@]}"} | median)
lib_apache_stop "$ENTRA"

# ------------------------------------------------------- (c) mod_auth_openidc
OIDC_ROWS=()
OIDC_SO=$(lib_moddir)/mod_auth_openidc.so
if [ "${OPENIDC:-1}" = 0 ]; then
    info "mod_auth_openidc: skipped (OPENIDC=0)"
elif [ ! -f "$OIDC_SO" ]; then
    info "mod_auth_openidc: not installed (libapache2-mod-auth-openidc), skipped"
else
    OIDC_VERSION=$(dpkg-query -W -f='${Version}' libapache2-mod-auth-openidc 2>/dev/null || echo '?')
    OIDC_VERSION=${OIDC_VERSION%%-*}
    lib_secret_file "$OIDC/conf/passphrase"
    for session in shm client-cookie; do
        case $session in
            shm) session_conf="OIDCSessionType server-cache
OIDCCacheType shm" ;;
            client-cookie) session_conf="OIDCSessionType client-cookie" ;;
        esac
        {
            instance_conf "$OIDC" "$OIDC_PORT"
            cat <<EOF

LoadModule auth_openidc_module $OIDC_SO
OIDCProviderMetadataURL $AUTHORITY/$MOCK_TENANT/v2.0/.well-known/openid-configuration
OIDCClientID $MOCK_CLIENT_ID
OIDCClientSecret "$MOCK_CLIENT_SECRET"
OIDCProviderTokenEndpointAuth client_secret_post
OIDCScope "openid profile email"
OIDCRedirectURI http://127.0.0.1:$OIDC_PORT/openidc/redirect_uri
OIDCCryptoPassphrase "$(cat "$OIDC/conf/passphrase")"
OIDCRemoteUserClaim preferred_username
$session_conf

Alias /openidc/ "$FILES/"
<Location /openidc/>
    AuthType openid-connect
    Require valid-user
</Location>
EOF
        } >"$OIDC/conf/httpd.conf"
        lib_apache_start "$OIDC" "$OIDC_PORT"
        say "signing in to mod_auth_openidc ($session sessions) with curl"
        JAR=$DIR/run/openidc-$session-cookies.txt
        rm -f "$JAR"
        if ! lib_signin "http://127.0.0.1:$OIDC_PORT/openidc/$FILE" "$JAR" "$DIR/run/signin.out"; then
            warn "sign-in to mod_auth_openidc failed (log: $OIDC/logs/error_log); not measured"
            tail -n 5 "$OIDC/logs/error_log" >&2 || true
            lib_apache_stop "$OIDC"
            continue
        fi
        OIDC_COOKIE=$(lib_cookie_header "$JAR")
        check "http://127.0.0.1:$OIDC_PORT/openidc/$FILE" "Cookie: $OIDC_COOKIE"
        info "session cookie(s): ${#OIDC_COOKIE} bytes"
        rps=()
        for r in $(seq 1 "$ROUNDS"); do
            rps+=("$(measure "openidc-$session" "$r" "$OIDC" "http://127.0.0.1:$OIDC_PORT/openidc/$FILE" "Cookie: $OIDC_COOKIE")")
            info "mod_auth_openidc $session: ${rps[-1]} req/s"
        done
        OIDC_ROWS+=("mod_auth_openidc $OIDC_VERSION, $session session|$(printf '%s\n' "${rps[@]}" | median)|openidc-$session")
        lib_apache_stop "$OIDC"
    done
fi

# ------------------------------------------------------------------- report
ENTRA_RATIO=$(ratio "$ENTRA_RPS" "$BARE")
MET=$(awk -v r="$ENTRA_RATIO" -v t="$TARGET" 'BEGIN { print (r >= t ? "met" : "NOT met") }')
cpu() { if [ -s "$DIR/run/cpu-$1" ]; then median <"$DIR/run/cpu-$1"; else echo '?'; fi; }
row() { printf '    %-50s %10s %6s %10s%s\n' "$@"; }
echo
say "results: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s), 1 KB file, mpm_event, MaxKeepAliveRequests $KEEPALIVE_REQUESTS, loopback, $(nproc) CPUs"
row "served" "req/s" "ratio" "CPU us/req" ""
row "bare (no auth)" "$BARE" "1.00" "$(cpu bare)" ""
row "bare again: this run's noise" "$BARE_AGAIN" "$(ratio "$BARE_AGAIN" "$BARE")" "$(cpu bare-again)" \
    "  the same work: its distance from 1.00 is noise"
row "mod_auth_entra, signed-in cookie" "$ENTRA_RPS" "$ENTRA_RATIO" "$(cpu entra)" "  target >= $TARGET: $MET"
row "bare, with a bearer token's header" "$BARE_BEARER" "1.00" "$(cpu bare-bearer)" ""
row "mod_auth_entra, bearer token (API)" "$BEARER_RPS" "$(ratio "$BEARER_RPS" "$BARE_BEARER")" "$(cpu bearer)" "  target >= 0.95 (to the row above)"
row "mod_auth_entra, socache shmcb session" "$SHM_RPS" "$(ratio "$SHM_RPS" "$BARE")" "$(cpu shmcb)" "  target >= 0.92"
if [ -n "$REDIS_COOKIE" ]; then
    row "mod_auth_entra, socache redis session" "$REDIS_RPS" "$(ratio "$REDIS_RPS" "$BARE")" "$(cpu redis)" "  target >= 0.80"
fi
for r in ${OIDC_ROWS[@]+"${OIDC_ROWS[@]}"}; do
    IFS='|' read -r label rps key <<<"$r"
    row "$label" "$rps" "$(ratio "$rps" "$BARE")" "$(cpu "$key")" ""
done
cat <<EOF
    ratio = req/s / bare req/s (the figure the target is about). "bare again"
    is bare measured twice in each round: a ratio no farther from 1.00 than
    its own says nothing the noise does not. CPU us/req = Apache's own CPU
    time per request (wrk's excluded). wrk's output: $DIR/logs/wrk-*.txt
    (its "Socket errors: read" are keep-alive connections Apache closed).
EOF

[ ! -s "$DIR/run/invalid" ] ||
    die "answers other than 200 during: $(sort -u "$DIR/run/invalid" | tr '\n' ' ')- those figures are not valid"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MET" != met ]; then
    die "mod_auth_entra's ratio $ENTRA_RATIO is below the target $TARGET"
fi
