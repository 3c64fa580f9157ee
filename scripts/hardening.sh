#!/bin/bash
# mod_auth_entra's hardening checks, run by scripts/test.sh after the normal
# suite (as the unprivileged test user, in its copy of the tree):
#
#   unit-asan      the C unit tests built with AddressSanitizer + UBSan, leak
#                  checking on                              (make unit-asan)
#   unit-valgrind  the C unit tests under valgrind; errors and definite leaks
#                  fail                                     (make unit-valgrind)
#   unit-tsan      the threads test (the per-process caches hammered from 8
#                  threads) under ThreadSanitizer, clang-14 (make unit-tsan)
#   fuzz           every libFuzzer target for FUZZ_SECONDS (10) from its
#                  committed seeds                          (scripts/fuzz.sh)
#   apache-asan    the whole Apache::Test suite against the module built with
#                  ASan + UBSan; any sanitizer report fails it   (make asan)
#
#   scripts/hardening.sh                 all of them, then "N passed, N failed"
#   scripts/hardening.sh fuzz unit-asan  only these
#
# Run as root it does what scripts/test.sh does: copies the tree to
# $HARDENING_DIR (default /var/tmp/mod_auth_entra-hardening), hands it to
# $TEST_USER (default entratest) and runs there as that user. In a tree that
# has not been configured yet it runs autoreconf, configure and make first.
#
# Settings (environment): FUZZ_SECONDS (10), FUZZ_JOBS (number of CPUs, at
# most 4; 1 while the Apache suite runs beside), HARDENING_PARALLEL (1: the
# Apache suite runs beside the other steps; 0: after them), HARDENING_DIR, TEST_USER, APACHE_TEST_* (handed to Apache::Test),
# ASAN_TESTS (only these .t files in the ASan suite, e.g. "t/40_cookies.t").
#
# `make asan` calls `scripts/hardening.sh --apache-asan DIR` once it has built
# DIR/.libs/mod_auth_entra.so: that runs the suite in DIR against it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

STEPS=(unit-asan unit-valgrind unit-tsan fuzz apache-asan)
FUZZ_SECONDS=${FUZZ_SECONDS:-10}

# ------------------------------------------------ the suite against ASan
# apache_asan DIR: DIR/.libs/mod_auth_entra.so is the sanitized module. Copies
# t/ next to it (t/conf/extra.conf.in loads @ServerRoot@/../.libs/...), writes
# DIR/httpd-asan (httpd with libasan preloaded: Debian's httpd is not built
# with ASan), runs t/TEST with it and fails on any sanitizer report.
apache_asan() {
    local dir so libasan rc=0 reports f
    dir=$(cd "$1" && pwd)
    so=$dir/.libs/mod_auth_entra.so
    [ -f "$so" ] || die "$so is missing: run 'make asan'"
    libasan=$(ldd "$so" | awk '/libasan\.so/ { print $3; exit }')
    if [ -z "$libasan" ] || [ ! -f "$libasan" ]; then
        die "$so is not linked with libasan"
    fi
    is_root && die "Apache::Test does not run as root: run 'make asan' as another user"

    say "Apache::Test suite against the ASan + UBSan module $so"
    # DIR mirrors the tree: its own copy of t/ (logs and generated files stay
    # in DIR) and links to everything else the suite reads (conf/examples...),
    # but DIR/.libs is the sanitized module.
    rm -rf "$dir/t"
    rsync -a --exclude=/logs/ --exclude=/conf/httpd.conf --exclude=/conf/extra.conf \
          --exclude=/conf/apache_test_config.pm --exclude='/conf/modperl_*' \
          "$ENTRA_TOP/t/" "$dir/t/"
    mkdir -p "$dir/t/logs"
    for f in "$ENTRA_TOP"/*; do
        case ${f##*/} in t|"${dir##*/}") continue ;; esac
        [ "$f" -ef "$dir" ] || ln -sfn "$f" "$dir/${f##*/}"
    done
    # halt_on_error: the first report ends the child (the suite then fails
    # too); detect_leaks=0: httpd frees its pools only at exit, by design.
    cat >"$dir/httpd-asan" <<EOF
#!/bin/sh
# Written by scripts/hardening.sh: httpd with AddressSanitizer preloaded, for
# a module built with -fsanitize=address,undefined. Reports go to t/logs.
LD_PRELOAD=$libasan\${LD_PRELOAD:+:\$LD_PRELOAD}
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$dir/t/logs/asan\${ASAN_EXTRA:+:\$ASAN_EXTRA}
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$dir/t/logs/ubsan
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec $HTTPD "\$@"
EOF
    chmod +x "$dir/httpd-asan"
    # the wrapper really brings ASan up in httpd
    f=$(ASAN_EXTRA="verbosity=1:log_path=stderr" "$dir/httpd-asan" -v 2>&1 || true)
    [[ $f == *AddressSanitizer* ]] ||
        die "httpd does not start with ASan preloaded ($dir/httpd-asan -v): $f"
    # shellcheck disable=SC2086
    (cd "$dir" && perl t/TEST -apxs "$APXS" -httpd "$dir/httpd-asan" ${ASAN_TESTS:-}) || rc=$?
    grep -q "$dir/t/../.libs/mod_auth_entra.so" "$dir/t/conf/extra.conf" 2>/dev/null ||
        { warn "the suite did not load $so"; rc=1; }

    reports=0
    for f in "$dir"/t/logs/asan.* "$dir"/t/logs/ubsan.*; do
        [ -e "$f" ] || continue
        reports=$((reports + 1))
        echo "--- sanitizer report $f ---"
        head -n 80 "$f"
    done
    # every httpd's error log: Apache::Test's and the extra servers' the tests start
    while IFS= read -r f; do
        if grep -nE 'AddressSanitizer|LeakSanitizer|runtime error:|exit signal|AH00052' "$f" \
                >"$dir/t/logs/sanitizer_lines.txt"; then
            reports=$((reports + 1))
            echo "--- sanitizer or crash lines in $f ---"
            head -n 40 "$dir/t/logs/sanitizer_lines.txt"
        fi
    done < <(find "$dir/t/logs" -name 'error_log*' -type f 2>/dev/null)
    if [ "$reports" -gt 0 ]; then
        warn "ASan/UBSan reported $reports problem(s) (logs: $dir/t/logs)"
        rc=1
    fi
    if [ "$rc" -eq 0 ]; then
        say "ASan suite: no sanitizer report, suite passed"
    else
        say "ASan suite: FAILED (logs: $dir/t/logs)"
    fi
    return "$rc"
}

if [ "${1:-}" = --apache-asan ]; then
    [ $# -eq 2 ] || die "usage: $0 --apache-asan DIR"
    apache_asan "$2"
    exit $?
fi

# ------------------------------------------------------------- as root
if is_root; then
    TEST_USER=${TEST_USER:-entratest}
    WORK=${HARDENING_DIR:-/var/tmp/mod_auth_entra-hardening}
    case $WORK in /|/root|/home|/var|/var/tmp|/tmp|"$ENTRA_TOP") die "refusing HARDENING_DIR=$WORK" ;; esac
    lib_deps
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        say "creating the unprivileged user $TEST_USER"
        useradd --system --user-group --create-home --home-dir "/var/lib/$TEST_USER" \
                --shell /bin/bash "$TEST_USER"
    fi
    say "copying $ENTRA_TOP to $WORK for $TEST_USER"
    lib_copy_tree "$ENTRA_TOP" "$WORK"
    chown -R "$TEST_USER:$TEST_USER" "$WORK"
    HOME_DIR=$(getent passwd "$TEST_USER" | cut -d: -f6)
    env=(HOME="${HOME_DIR:-$WORK}" USER="$TEST_USER" LOGNAME="$TEST_USER" SHELL=/bin/bash
         LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    for v in CI TERM FUZZ_SECONDS FUZZ_JOBS ASAN_TESTS HARDENING_PARALLEL $(compgen -v APACHE_TEST_ || true); do
        [ -z "${!v+x}" ] || env+=("$v=${!v}")
    done
    cd "$WORK"
    exec runuser -u "$TEST_USER" -- env -i "${env[@]}" bash "$WORK/scripts/hardening.sh" "$@"
fi

# ------------------------------------------------------------- the steps
if [ $# -gt 0 ]; then
    for s in "$@"; do
        [[ " ${STEPS[*]} " == *" $s "* ]] || die "unknown step '$s' (steps: ${STEPS[*]})"
    done
    STEPS=("$@")
fi
# What the steps need beyond the build's own packages.
missing=()
for s in "${STEPS[@]}"; do
    case $s in
        fuzz)
            command -v clang-14 >/dev/null || missing+=(clang-14)
            ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
                missing+=(libclang-rt-14-dev) ;;
        unit-valgrind)
            command -v valgrind >/dev/null || missing+=(valgrind) ;;
        unit-tsan)
            command -v clang-14 >/dev/null || missing+=(clang-14) ;;
    esac
done
[ ${#missing[@]} -eq 0 ] ||
    die "missing packages: ${missing[*]} (scripts/install-deps.sh installs them, as root)"

cd "$ENTRA_TOP"
T0=$(date +%s)
if [ ! -f Makefile ]; then
    say "configuring and building (no Makefile in $ENTRA_TOP)"
    { autoreconf -fi && ./configure --with-apxs="$APXS" --enable-test-clock; } >hardening-build.log 2>&1 ||
        { tail -n 30 hardening-build.log; die "configure failed (log: $ENTRA_TOP/hardening-build.log)"; }
fi
make -s -j"$(nproc)" >/dev/null || die "make failed"

jobs=$(nproc)
[ "$jobs" -le 4 ] || jobs=4
results=()
passed=0 failed=0

# record STEP RC SECONDS
record() {
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        results+=("$(printf '%-14s ok    %4ds' "$1" "$3")")
    else
        failed=$((failed + 1))
        results+=("$(printf '%-14s FAIL  %4ds  (exit %d)' "$1" "$3" "$2")")
    fi
}

# The Apache suite mostly waits (on its servers, the mock, timeouts): when
# it runs with other steps (HARDENING_PARALLEL, on by default), it runs
# beside them, its output kept in a log shown when it ends, and the fuzzers
# take one CPU instead of all.
asan_pid='' asan_log=$ENTRA_TOP/hardening-apache-asan.log
if [ "${HARDENING_PARALLEL:-1}" = 1 ] && [ ${#STEPS[@]} -gt 1 ] && [[ " ${STEPS[*]} " == *" apache-asan "* ]]; then
    say "hardening: apache-asan (beside the other steps; log: $asan_log)"
    asan_t0=$(date +%s)
    make -s asan >"$asan_log" 2>&1 &
    asan_pid=$!
    jobs=1
fi
for step in "${STEPS[@]}"; do
    [ "$step" = apache-asan ] && [ -n "$asan_pid" ] && continue
    say "hardening: $step"
    t=$(date +%s)
    rc=0
    case $step in
        unit-asan)     make -s unit-asan || rc=$? ;;
        unit-valgrind) make -s unit-valgrind || rc=$? ;;
        unit-tsan)     make -s unit-tsan || rc=$? ;;
        fuzz)          FUZZ_JOBS=${FUZZ_JOBS:-$jobs} "$ENTRA_TOP/scripts/fuzz.sh" "$FUZZ_SECONDS" || rc=$? ;;
        apache-asan)   make -s asan || rc=$? ;;
    esac
    record "$step" "$rc" $(( $(date +%s) - t ))
done
if [ -n "$asan_pid" ]; then
    say "hardening: waiting for apache-asan"
    rc=0
    wait "$asan_pid" || rc=$?
    cat "$asan_log"
    record apache-asan "$rc" $(( $(date +%s) - asan_t0 ))
fi
echo
say "hardening results ($(( $(date +%s) - T0 ))s, in $ENTRA_TOP)"
for r in "${results[@]}"; do info "$r"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
