#!/bin/bash
# mod_auth_entra soak test: one private Apache (mpm_event) with the module in
# front of a small static file, a session signed in against the mock Entra
# (t/mock/mock_entra.py), then a million signed-in requests with wrk, on
# loopback only. Passes when every answer was a 200 with no socket error, no
# Apache child died, and no child's memory (RSS) grew by more than
# RSS_GROWTH_MB after the warm-up. Prints the figures either way.
#
#   scripts/soak.sh                       1,000,000 requests
#   REQUESTS=200000 scripts/soak.sh       fewer
#
# Bounded in count (REQUESTS) and in time (MAX_SECONDS): it stops and fails
# when the time is up before the count.
#
# Settings (environment):
#   REQUESTS (1000000), WARMUP_REQUESTS (50000, not counted in REQUESTS),
#   RSS_GROWTH_MB (20: largest allowed growth of one process after warm-up),
#   MAX_SECONDS (1800), ROUND_SECONDS (10: RSS is sampled between rounds),
#   THREADS (2), CONNECTIONS (50), CHILDREN (2: Apache child processes, fixed,
#   64 threads each; CONNECTIONS must stay below CHILDREN * 64)
#   SOAK_DIR (/var/tmp/mod_auth_entra-soak), SOAK_PORT (28180),
#   SOAK_MOCK_PORT (28190), SOAK_BACKEND_PORT (28191)
#   MODULE_SO: a prebuilt module instead of building a copy of the tree
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

DIR=${SOAK_DIR:-/var/tmp/mod_auth_entra-soak}
PORT=${SOAK_PORT:-28180}
MOCK_PORT=${SOAK_MOCK_PORT:-28190}
BACKEND_PORT=${SOAK_BACKEND_PORT:-28191}
REQUESTS=${REQUESTS:-1000000}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-50000}
RSS_GROWTH_MB=${RSS_GROWTH_MB:-20}
MAX_SECONDS=${MAX_SECONDS:-1800}
ROUND_SECONDS=${ROUND_SECONDS:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
CHILDREN=${CHILDREN:-2}
FILE=1k.txt
ROOT=$DIR/apache
for v in REQUESTS WARMUP_REQUESTS RSS_GROWTH_MB MAX_SECONDS ROUND_SECONDS THREADS CONNECTIONS CHILDREN; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a whole number (is '${!v}')" ;; esac
done
if [ "$REQUESTS" -eq 0 ] || [ "$THREADS" -eq 0 ] || [ "$CONNECTIONS" -lt "$THREADS" ] ||
   [ "$CONNECTIONS" -ge $((CHILDREN * 64)) ]; then
    die "REQUESTS and THREADS must be positive, THREADS <= CONNECTIONS < CHILDREN * 64"
fi

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -d "$DIR" ]; then
        say "cleaning up"
        lib_apache_stop "$ROOT"
        lib_stop_mock "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
say "mod_auth_entra soak: $REQUESTS signed-in requests (+$WARMUP_REQUESTS warm-up) in $DIR"
lib_stop_mock "$DIR" 2>/dev/null || true       # leftovers of an interrupted run
lib_apache_stop "$ROOT" 2>/dev/null || true
say "checking packages"
lib_deps
command -v wrk >/dev/null || die "wrk is missing (Debian package wrk)"

mkdir -p "$DIR"
rm -rf "$ROOT" "$DIR/files" "$DIR/logs" "$DIR/run"
mkdir -p "$ROOT"/{conf,htdocs,logs,run} "$DIR/files" "$DIR/logs" "$DIR/run"
lib_module_so "$DIR/build"
SO=$BUILT_SO

"$PYTHON" -c 'import sys; line = b"mod_auth_entra soak test: a 1 KB static file behind a session.\n"; sys.stdout.buffer.write((line * 20)[:1024])' >"$DIR/files/$FILE"

lib_start_mock "$DIR" "$MOCK_PORT" "$BACKEND_PORT" \
    "http://127.0.0.1:$PORT/.auth/login/aad/callback" "http://127.0.0.1:$PORT/"
lib_secret_file "$ROOT/conf/session.key"
# The static file and the session key are read by the user Apache runs as.
if is_root; then chgrp -R www-data "$DIR/files" && chmod -R g+rX "$DIR/files"; fi

LISTEN_ADDR=127.0.0.1
export LISTEN_ADDR
{
    lib_httpd_conf "$ROOT" "$PORT"
    cat <<EOF

# Soak: a fixed number of children that never recycle, so that a leak shows
# as growth of the same processes; keep-alive without a request limit and
# more threads than wrk has connections, so that Apache never closes a
# connection (mpm_event drops keep-alive connections when all threads are busy).
ServerLimit             $CHILDREN
StartServers            $CHILDREN
ThreadLimit             64
ThreadsPerChild         64
MaxRequestWorkers       $((CHILDREN * 64))
MinSpareThreads         1
MaxSpareThreads         $((CHILDREN * 64))
MaxConnectionsPerChild  0
MaxKeepAliveRequests    0
# Only answers other than 200 are logged: there must be none.
LogFormat "%>s %m %U" brief
CustomLog "$ROOT/logs/non200_log" brief "expr=%{REQUEST_STATUS} != 200"

LoadModule auth_entra_module $SO
EntraTenant $MOCK_TENANT
EntraClientID $MOCK_CLIENT_ID
EntraClientSecret "$MOCK_CLIENT_SECRET"
EntraAuthority http://127.0.0.1:$MOCK_PORT
EntraSessionKey file:$ROOT/conf/session.key
EntraCookieSecure Off

<Directory "$DIR/files">
    Options None
    AllowOverride None
    Require all granted
</Directory>
Alias /soak/ "$DIR/files/"
<Location /soak/>
    AuthType Entra
    Require valid-user
</Location>
EOF
} >"$ROOT/conf/httpd.conf"
lib_apache_start "$ROOT" "$PORT"
URL=http://127.0.0.1:$PORT/soak/$FILE

say "signing in with curl"
JAR=$DIR/run/cookies.txt
lib_signin "$URL" "$JAR" "$DIR/run/signin.out" || die "sign-in failed (log: $ROOT/logs/error_log)"
COOKIE=$(lib_cookie_header "$JAR")
cmp -s "$DIR/run/signin.out" "$DIR/files/$FILE" || die "the signed-in answer is not the file"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 302 ] || die "without the cookie $URL answered $code, not 302"
info "session cookie: ${#COOKIE} bytes"

# wrk counts the answers in Lua: every one must be 200 (a 302 back to the
# sign-in is a failure too), and each thread stops after its share.
cat >"$DIR/run/soak.lua" <<'EOF'
-- Written by scripts/soak.sh. Arguments: requests per thread.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    limit = tonumber(args[1]) or 0
    count = 0
    non200 = 0
    first_bad = 0
end
function response(status, headers, body)
    count = count + 1
    if status ~= 200 then
        non200 = non200 + 1
        if first_bad == 0 then first_bad = status end
    end
    if limit > 0 and count >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
    local total, bad, first = 0, 0, 0
    for _, t in ipairs(threads) do
        total = total + t:get("count")
        bad = bad + t:get("non200")
        if first == 0 then first = t:get("first_bad") end
    end
    local e = summary.errors
    io.write(string.format("soak: answers %d non200 %d first_bad %d errors %d %d %d %d %d\n",
        total, bad, first, e.connect, e.read, e.write, e.timeout, e.status))
end
EOF

# pids ROOT: Apache's children (one line each).
children() {
    local ppid f stat a
    ppid=$(cat "$ROOT/run/httpd.pid")
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        read -ra a <<<"${stat##*) }"
        [ "${a[1]}" = "$ppid" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
    return 0
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# sample LABEL: one line "LABEL pid:rssKB ..." into run/rss.txt (parent first).
sample() {
    local parent line pid
    parent=$(cat "$ROOT/run/httpd.pid")
    line="$1 $parent:$(rss_kb "$parent")"
    for pid in $(children); do line+=" $pid:$(rss_kb "$pid")"; done
    echo "$line" >>"$DIR/run/rss.txt"
}

DONE=0 NON200=0 ERRORS=0 FIRST_BAD=0 RATE=0
# drive N: wrk rounds until N more answers (or the time bound). Full rounds
# run ROUND_SECONDS and measure the rate; the last one stops each wrk thread
# at its share of what is left (wrk itself still waits out -d).
drive() {
    local want=$1 got=0 left secs per out line n bad first c r w t
    while [ "$got" -lt "$want" ]; do
        left=$((want - got))
        if [ $(( $(date +%s) - T0 )) -ge "$MAX_SECONDS" ]; then
            warn "MAX_SECONDS=$MAX_SECONDS reached after $DONE requests"
            return 1
        fi
        if [ "$RATE" -gt 0 ] && [ "$left" -gt $((RATE * ROUND_SECONDS)) ]; then
            secs=$ROUND_SECONDS per=0
        else
            # the rest (or, rate unknown, at most the rest in a short round)
            secs=$(( RATE > 0 ? left * 13 / 10 / RATE + 2 : 3 ))
            per=$(( (left + THREADS - 1) / THREADS ))
        fi
        out=$DIR/logs/wrk-$((DONE + got)).txt
        timeout $((secs + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 10s \
            -H "Cookie: $COOKIE" -s "$DIR/run/soak.lua" "$URL" -- "$per" >"$out" 2>&1 ||
            { cat "$out" >&2; die "wrk failed"; }
        line=$(grep '^soak: ' "$out") || { cat "$out" >&2; die "no figures from wrk"; }
        read -r _ _ n _ bad _ first _ c r w t _ <<<"$line"
        got=$((got + n))
        NON200=$((NON200 + bad))
        ERRORS=$((ERRORS + c + r + w + t))
        [ "$FIRST_BAD" -ne 0 ] || FIRST_BAD=$first
        # a round that ran its full time measured the rate
        if [ "$per" -eq 0 ] || [ "$n" -lt $((per * THREADS)) ]; then
            RATE=$(( n / secs ))
            [ "$RATE" -gt 0 ] || RATE=1
        fi
        DONE=$((DONE + n))
        sample "after-$DONE"
        info "$(printf '%9d requests (%6d req/s), non-200 %d, socket errors %d' "$DONE" "$RATE" "$NON200" "$ERRORS")"
    done
}

: >"$DIR/run/rss.txt"
# the sign-in's own 302s are in the log already: count from here
NON200_START=$(wc -l <"$ROOT/logs/non200_log")
sample start
say "warm-up: $WARMUP_REQUESTS requests (wrk -t$THREADS -c$CONNECTIONS)"
[ "$WARMUP_REQUESTS" -eq 0 ] || drive "$WARMUP_REQUESTS" || die "time bound reached during the warm-up"
sample baseline
BASE_CHILDREN=$(children | sort | tr '\n' ' ')
WARM_DONE=$DONE
say "soak: $REQUESTS requests in rounds of up to ${ROUND_SECONDS}s; RSS sampled after each"
S0=$(date +%s)
ok=1
drive "$REQUESTS" || ok=0
SECS=$(( $(date +%s) - S0 ))
sample end
END_CHILDREN=$(children | sort | tr '\n' ' ')

# ------------------------------------------------------------------ report
SOAKED=$((DONE - WARM_DONE))
NON200_LOG=$(( $(wc -l <"$ROOT/logs/non200_log") - NON200_START ))
CRASHES=$(grep -c -E 'exit signal|AH00052|AddressSanitizer|child process .* still did not exit' \
          "$ROOT/logs/error_log" || true)
echo
say "results: $SOAKED signed-in requests in ${SECS}s ($(( SOAKED / (SECS > 0 ? SECS : 1) )) req/s), after $WARM_DONE warm-up; mpm_event, $CHILDREN children x 64 threads, wrk -t$THREADS -c$CONNECTIONS, loopback, $(nproc) CPUs"
info "answers other than 200: $NON200 (wrk), $NON200_LOG (Apache's log)$([ "$FIRST_BAD" -eq 0 ] || echo ", first: HTTP $FIRST_BAD")"
info "socket errors (connect/read/write/timeout): $ERRORS"
info "children at the baseline: ${BASE_CHILDREN:-none}; at the end: ${END_CHILDREN:-none}"
info "crashes in the error log: $CRASHES"
printf '    %-8s %-8s %12s %12s %12s %10s\n' role pid "start KB" "baseline KB" "end KB" "growth KB"
worst=0
base_line=$(grep '^baseline ' "$DIR/run/rss.txt")
start_line=$(grep '^start ' "$DIR/run/rss.txt")
end_line=$(grep '^end ' "$DIR/run/rss.txt")
role=parent
for kv in ${base_line#baseline }; do
    pid=${kv%%:*} base=${kv#*:}
    start=$(tr ' ' '\n' <<<"$start_line" | awk -F: -v p="$pid" '$1 == p { print $2 }')
    end=$(tr ' ' '\n' <<<"$end_line" | awk -F: -v p="$pid" '$1 == p { print $2 }')
    growth=$(( ${end:-0} - base ))
    [ -n "$end" ] || growth=0
    [ "$growth" -le "$worst" ] || worst=$growth
    printf '    %-8s %-8s %12s %12s %12s %10s\n' "$role" "$pid" "${start:--}" "$base" "${end:-gone}" "$growth"
    role=child
done
info "$(awk -v w="$worst" -v b="$RSS_GROWTH_MB" 'BEGIN { printf "largest growth after the warm-up: %.1f MB (bound: %d MB per process)", w / 1024, b }'); samples: $DIR/run/rss.txt"

fail=()
[ "$ok" -eq 1 ] && [ "$SOAKED" -ge "$REQUESTS" ] || fail+=("only $SOAKED of $REQUESTS requests within MAX_SECONDS=$MAX_SECONDS")
[ "$NON200" -eq 0 ] && [ "$NON200_LOG" -eq 0 ] || fail+=("answers other than 200")
[ "$ERRORS" -eq 0 ] || fail+=("$ERRORS socket errors")
[ "$CRASHES" -eq 0 ] || fail+=("a child crashed (see $ROOT/logs/error_log)")
[ "$BASE_CHILDREN" = "$END_CHILDREN" ] || fail+=("the children changed (a crash or a restart)")
[ "$worst" -le $((RSS_GROWTH_MB * 1024)) ] || fail+=("RSS grew by $((worst / 1024)) MB > $RSS_GROWTH_MB MB")
if [ ${#fail[@]} -gt 0 ]; then
    printf 'soak.sh: FAIL: %s\n' "${fail[@]}"
    exit 1
fi
echo "soak.sh: PASS ($SOAKED requests, all 200, no socket error, RSS growth $(awk -v w="$worst" 'BEGIN { printf "%.1f", w / 1024 }') MB <= $RSS_GROWTH_MB MB per process, $(( $(date +%s) - T0 ))s in all)"
