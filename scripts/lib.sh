# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/test.sh, scripts/demo.sh and bench/run.sh:
# copying and building the tree, the mock Entra, a private Apache instance
# (its own ServerRoot, config, port, logs; the system Apache is never
# touched) and a scripted sign-in with curl.
#
# Source it; it defines functions and constants only.

ENTRA_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APXS=${APXS:-/usr/bin/apxs}
HTTPD=${HTTPD:-/usr/sbin/apache2}
PYTHON=${PYTHON:-/usr/bin/python3}

# The mock Entra's fixed identities (see t/mock/mock_entra.py, GET /_mock/info).
MOCK_TENANT=4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d
MOCK_CLIENT_ID=6731de76-14a6-49ae-97bc-6eba6914391e
MOCK_CLIENT_SECRET='mock+Secret&x=1%41~value.123'

say()  { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Install the packages (as root), or check that they are there (otherwise).
lib_deps() {
    if is_root; then
        "$ENTRA_TOP/scripts/install-deps.sh"
    elif ! "$ENTRA_TOP/scripts/install-deps.sh" --check; then
        die "packages are missing; run scripts/install-deps.sh as root"
    fi
}

# lib_moddir: where Debian's Apache keeps its modules.
lib_moddir() { "$APXS" -q LIBEXECDIR; }

# lib_copy_tree SRC DEST: copy the source tree (no .git, no build or test
# products) into DEST, which is emptied first. In a git work tree the file
# list is git's (tracked + untracked-but-not-ignored); otherwise rsync with a
# list of known build products.
lib_copy_tree() {
    local src=$1 dest=$2
    case $dest in
        ""|/|/root|/home|/tmp|/var|/var/tmp|/usr*|/etc*|"$src") die "refusing to replace $dest with a copy of the tree" ;;
    esac
    rm -rf "$dest"
    mkdir -p "$dest"
    if command -v git >/dev/null 2>&1 &&
       git -c safe.directory='*' -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git -c safe.directory='*' ls-files -z --cached --others --exclude-standard) |
            while IFS= read -r -d '' f; do
                # skip files deleted from the work tree but still in the index
                if [ -e "$src/$f" ] || [ -L "$src/$f" ]; then printf '%s\0' "$f"; fi
            done |
            rsync -a --from0 --files-from=- "$src/" "$dest/"
    else
        rsync -a \
            --exclude=.git/ --exclude='*.o' --exclude='*.lo' --exclude='*.la' \
            --exclude=.libs/ --exclude=.deps/ --exclude=autom4te.cache/ \
            --exclude=/config.log --exclude=/config.status --exclude=/libtool \
            --exclude='*.trs' --exclude=/t/logs/ \
            "$src/" "$dest/"
    fi
    # Apache::Test's generated files hold absolute paths of the old place.
    rm -rf "$dest/t/logs" "$dest/t/conf/httpd.conf" "$dest/t/conf/apache_test_config.pm"
    local in
    for in in "$dest"/t/conf/*.in; do
        [ -e "$in" ] && rm -f "${in%.in}"
    done
    return 0
}

# lib_build DIR: autoreconf + configure + make in DIR (as the current user);
# output goes to DIR/build.log, whose tail is shown on failure. Sets BUILT_SO.
lib_build() {
    local dir=$1 log=$1/build.log
    say "building the module in $dir (log: $log)"
    [ -f "$dir/configure.ac" ] || die "no configure.ac in $dir: is the source tree complete?"
    if ! (cd "$dir" &&
          { autoreconf -fi &&
            ./configure --with-apxs="$APXS" &&
            make -j"$(nproc)"; } >"$log" 2>&1); then
        tail -n 40 "$log" >&2
        die "build failed (full log: $log)"
    fi
    BUILT_SO=$dir/.libs/mod_auth_entra.so
    [ -f "$BUILT_SO" ] || die "build finished but $BUILT_SO is missing"
    info "built $BUILT_SO"
}

# lib_module_so DIR: the module to load. $MODULE_SO when set (a prebuilt
# module), else a fresh build of a copy of the tree in DIR. Sets BUILT_SO.
lib_module_so() {
    if [ -n "${MODULE_SO:-}" ]; then
        [ -f "$MODULE_SO" ] || die "MODULE_SO=$MODULE_SO does not exist"
        BUILT_SO=$(readlink -f "$MODULE_SO")
        info "using prebuilt module $BUILT_SO (MODULE_SO)"
        return 0
    fi
    say "copying the source tree to $1"
    lib_copy_tree "$ENTRA_TOP" "$1"
    lib_build "$1"
}

# lib_port_free PORT: true when nothing listens on 127.0.0.1:PORT.
lib_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lib_need_ports PORT...: die naming the first port already in use.
lib_need_ports() {
    local p
    for p in "$@"; do
        lib_port_free "$p" || die "port $p on 127.0.0.1 is in use; choose other ports (see the script's header)"
    done
}

# lib_wait_port PORT SECONDS: wait until something listens on 127.0.0.1:PORT.
lib_wait_port() {
    local port=$1 n=$(( $2 * 10 ))
    while [ "$n" -gt 0 ]; do
        lib_port_free "$port" || return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# lib_wait_file FILE SECONDS: wait until FILE exists and is not empty.
lib_wait_file() {
    local n=$(( $2 * 10 ))
    until [ -s "$1" ]; do
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
        n=$((n - 1))
    done
}

# lib_pid_alive PIDFILE: the pid in PIDFILE when that process runs.
lib_pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# lib_stop_pid PIDFILE NAME: TERM the process in PIDFILE (then KILL after
# 10 s) and wait for it; remove PIDFILE. Quiet when it does not run.
lib_stop_pid() {
    local pidfile=$1 name=$2 pid n=100
    if pid=$(lib_pid_alive "$pidfile"); then
        info "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        if kill -0 "$pid" 2>/dev/null; then
            warn "$name (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

# ---------------------------------------------------------------- mock Entra

# lib_start_mock DIR PORT BACKEND_PORT [REDIRECT_URI...]: start t/mock/mock_entra.py
# (mock Entra on PORT, echo backend on BACKEND_PORT; the app registration's
# redirect URIs, which it matches exactly) detached, pid in DIR/run/mock.pid,
# output in DIR/logs/mock.log; wait for its "ready" line.
lib_start_mock() {
    local dir=$1 port=$2 bport=$3 n=150 pid u
    local regs=()
    shift 3
    for u in "$@"; do regs+=(--redirect-uri "$u"); done
    local mock=$ENTRA_TOP/t/mock/mock_entra.py
    [ -f "$mock" ] || die "the mock Entra ($mock) is missing"
    lib_need_ports "$port" "$bport"
    mkdir -p "$dir/run" "$dir/logs"
    say "starting the mock Entra on 127.0.0.1:$port and the echo backend on 127.0.0.1:$bport"
    setsid "$PYTHON" "$mock" --port "$port" --backend-port "$bport" "${regs[@]}" \
        </dev/null >"$dir/logs/mock.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/run/mock.pid"
    while ! grep -qx 'ready' "$dir/logs/mock.log" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/logs/mock.log" >&2
            die "the mock Entra exited before it was ready (log: $dir/logs/mock.log)"
        fi
        [ "$n" -gt 0 ] || { lib_stop_pid "$dir/run/mock.pid" "mock Entra"; die "the mock Entra was not ready within 15 s"; }
        sleep 0.1
        n=$((n - 1))
    done
    info "mock Entra ready (pid $pid): http://127.0.0.1:$port/$MOCK_TENANT/v2.0/.well-known/openid-configuration"
}

lib_stop_mock() { lib_stop_pid "$1/run/mock.pid" "mock Entra"; }

# ---------------------------------------------------------- private Apache

# lib_httpd_conf ROOT PORT: print the base of a private Apache config:
# mpm_event, its own ServerRoot, pid file, logs, DocumentRoot ROOT/htdocs,
# listening on 127.0.0.1:PORT only (LISTEN_ADDR overrides the address).
# Callers append their own LoadModule lines and locations.
lib_httpd_conf() {
    local root=$1 port=$2 moddir m
    moddir=$(lib_moddir)
    cat <<EOF
# Generated by mod_auth_entra's scripts/lib.sh: a private Apache instance.
# Start: $HTTPD -f $root/conf/httpd.conf -k start     Stop: ... -k stop
ServerRoot "$root"
ServerName 127.0.0.1:$port
Listen ${LISTEN_ADDR:-127.0.0.1}:$port
PidFile "$root/run/httpd.pid"
DefaultRuntimeDir "$root/run"
ErrorLog "$root/logs/error_log"
LogLevel ${HTTPD_LOGLEVEL:-warn}
LogFormat "%h %l %u %t \"%r\" %>s %b" common
TypesConfig /etc/mime.types

EOF
    for m in mpm_event authn_core authz_core authz_user mime alias headers proxy proxy_http; do
        echo "LoadModule ${m}_module $moddir/mod_$m.so"
    done
    if is_root; then
        printf '\nUser www-data\nGroup www-data\n'
    fi
    cat <<EOF

# Debian's mpm_event defaults, spelled out so every instance is the same.
StartServers            2
MinSpareThreads         25
MaxSpareThreads         75
ThreadLimit             64
ThreadsPerChild         25
MaxRequestWorkers       150
MaxConnectionsPerChild  0
KeepAlive On

DocumentRoot "$root/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$root/htdocs">
    Options None
    AllowOverride None
    Require all granted
</Directory>
EOF
}

# lib_apache_start ROOT PORT: check and start the instance whose config is
# ROOT/conf/httpd.conf and wait until it listens on PORT.
lib_apache_start() {
    local root=$1 port=$2 conf=$1/conf/httpd.conf
    mkdir -p "$root/logs" "$root/run"
    lib_need_ports "$port"
    if ! "$HTTPD" -f "$conf" -t >"$root/logs/configtest.log" 2>&1; then
        cat "$root/logs/configtest.log" >&2
        die "Apache rejected $conf"
    fi
    say "starting a private Apache on port $port ($conf)"
    if ! "$HTTPD" -f "$conf" -k start; then
        tail -n 20 "$root/logs/error_log" >&2 2>/dev/null || true
        die "Apache did not start (log: $root/logs/error_log)"
    fi
    if ! lib_wait_port "$port" 15 || ! lib_wait_file "$root/run/httpd.pid" 5; then
        tail -n 20 "$root/logs/error_log" >&2 2>/dev/null || true
        die "Apache is not listening on port $port after 15 s (log: $root/logs/error_log)"
    fi
    info "Apache up (pid $(cat "$root/run/httpd.pid")), log: $root/logs/error_log"
}

# lib_apache_stop ROOT: stop the instance of ROOT/conf/httpd.conf, if running,
# and wait until its parent process has gone (so its port is free again).
lib_apache_stop() {
    local root=$1 pid n=150
    pid=$(lib_pid_alive "$root/run/httpd.pid") || return 0
    info "stopping Apache (pid $pid, $root)"
    "$HTTPD" -f "$root/conf/httpd.conf" -k stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        warn "Apache (pid $pid) still runs after 15 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$root/run/httpd.pid"
}

# lib_secret_file PATH [LITERAL]: write LITERAL (or 32 random bytes, hex) to
# PATH unless it exists; readable by root and the group Apache runs as.
lib_secret_file() {
    local path=$1
    if [ $# -ge 2 ]; then
        (umask 077; printf '%s' "$2" >"$path")
    elif [ ! -s "$path" ]; then
        (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$path")
    fi
    if is_root; then chgrp www-data "$path" && chmod 640 "$path"; fi
}

# ----------------------------------------------------------------- sign-in

# lib_signin URL JAR BODY: sign in the way a browser would, with curl and the
# cookie jar JAR, following every redirect by hand (and printing each hop)
# until a non-redirect answer; its body lands in BODY. True when that is 200.
lib_signin() {
    local url=$1 jar=$2 body=$3 hop out code loc shown
    for hop in 1 2 3 4 5 6 7 8; do
        out=$(curl -sS --max-time 20 -o "$body" -D "$body.headers" -b "$jar" -c "$jar" \
                   -w '%{http_code} %{redirect_url}' "$url") || { warn "curl failed on $url"; return 1; }
        lib_jar_forget "$jar" "$body.headers"
        code=${out%% *}
        loc=${out#* }
        shown=$url
        [ "${#shown}" -le 100 ] || shown="${url%%\?*}?..."
        printf '    %d. GET %s -> %s\n' "$hop" "$shown" "$code"
        case $code in
            301|302|303|307|308)
                [ -n "$loc" ] || { warn "redirect without Location"; return 1; }
                url=$loc ;;
            200) return 0 ;;
            *)
                warn "sign-in stopped with HTTP $code; body:"
                head -c 600 "$body" >&2; echo >&2
                return 1 ;;
        esac
    done
    warn "too many redirects"
    return 1
}

# lib_jar_forget JAR HEADERS: takes out of JAR the cookies the answer whose
# HEADERS curl wrote deleted (Max-Age=0, or an Expires in 1970). A browser
# forgets them; curl 7.88 keeps an HttpOnly cookie that a later curl run's
# Set-Cookie deletes, and a Cookie header made from the jar would then carry
# a sign-in's spent state cookies.
lib_jar_forget() {
    local jar=$1 headers=$2 gone
    [ -f "$jar" ] && [ -f "$headers" ] || return 0
    # a name whose last Set-Cookie deletes it (one answer can delete and set again)
    gone=$(tr -d '\r' <"$headers" | awk '
        tolower($1) == "set-cookie:" {
            name = $2; sub(/=.*/, "", name)
            last[name] = tolower($0) ~ /; *max-age=0( *;|$)/ || $0 ~ /; *[Ee]xpires=[^;]* 1970/ }
        END { for (name in last) if (last[name]) print name }')
    [ -n "$gone" ] || return 0
    awk -F'\t' -v gone="$gone" '
        BEGIN { n = split(gone, a, "\n"); for (i = 1; i <= n; i++) del[a[i]] = 1 }
        !(NF >= 7 && ($6 in del))' "$jar" >"$jar.new" && mv "$jar.new" "$jar"
}

# lib_cookie_header JAR: the jar's cookies as one Cookie header value.
lib_cookie_header() {
    awk -F'\t' '
        /^#HttpOnly_/ { sub(/^#HttpOnly_/, "") }
        /^#/ || NF < 7 { next }
        { c = c (c == "" ? "" : "; ") $6 "=" $7 }
        END { print c }' "$1"
}
