#!/bin/bash
# Build mod_auth_entra and run all its tests (C unit tests + the Apache::Test
# suite against the mock Entra). This is what CI runs (.ci/run).
#
#   scripts/test.sh               autoreconf, configure, make, the unit tests, the
#                                 Debian package (scripts/package-test.sh, as root), then
#                                 scripts/hardening.sh (the Apache::Test suite once,
#                                 against the ASan build; fuzzing; sanitizers)
#   scripts/test.sh t/login.t ... autoreconf, configure, make, then only these
#                                 Apache::Test files (perl t/TEST -apxs ... FILES)
#
# Apache::Test refuses to run as root, so as root this script installs the
# packages, creates the unprivileged user $TEST_USER (default entratest),
# copies the tree to $TEST_DIR (default /var/tmp/mod_auth_entra-test, made
# anew each run) and runs everything there as that user. Run as another user,
# it copies and builds as that user (the packages must be installed).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

TEST_USER=${TEST_USER:-entratest}
WORK=${TEST_DIR:-/var/tmp/mod_auth_entra-test}
T0=$(date +%s)
STEP=setup
if [ $# -gt 0 ]; then WHAT="build and Apache::Test files $*"; else WHAT="build, C unit tests and Apache::Test suite"; fi

summary() {
    local rc=$? secs=$(( $(date +%s) - T0 ))
    if [ "$rc" -eq 0 ]; then
        echo "test.sh: PASS: $WHAT (${secs}s, in $WORK)"
    else
        if [[ $STEP == "make check" || $STEP == perl* ]] && [ -s "$WORK/t/logs/error_log" ]; then
            echo "--- last 60 lines of $WORK/t/logs/error_log ---"
            tail -n 60 "$WORK/t/logs/error_log"
        fi
        echo "test.sh: FAIL at step '$STEP' (exit $rc, ${secs}s, in $WORK)"
    fi
}
trap summary EXIT

STEP=packages
say "checking packages"
lib_deps

if is_root; then
    STEP="user $TEST_USER"
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        say "creating the unprivileged user $TEST_USER"
        useradd --system --user-group --create-home --home-dir "/var/lib/$TEST_USER" \
                --shell /bin/bash "$TEST_USER"
    fi
    RUN_AS=(runuser -u "$TEST_USER" --)
    RUN_USER=$TEST_USER
else
    RUN_AS=()
    RUN_USER=$(id -un)
fi
HOME_DIR=$(getent passwd "$RUN_USER" | cut -d: -f6)
HOME_DIR=${HOME_DIR:-$WORK}

STEP=copy
case $WORK in /|/root|/home|/var|/var/tmp|/tmp|"$ENTRA_TOP") die "refusing TEST_DIR=$WORK" ;; esac
# Two runs at once would share $WORK (and Apache::Test's ports): take turns.
if exec 9>>"$WORK.lock" 2>/dev/null; then
    if ! flock -n 9; then
        say "another scripts/test.sh is using $WORK; waiting for it"
        flock 9
    fi
fi
say "copying $ENTRA_TOP to $WORK"
lib_copy_tree "$ENTRA_TOP" "$WORK"
if is_root; then chown -R "$TEST_USER:$TEST_USER" "$WORK"; fi

# run STEP CMD...: run CMD in $WORK as the test user, with a clean environment.
run() {
    STEP=$1
    shift
    say "$STEP"
    local env=(HOME="$HOME_DIR" USER="$RUN_USER" LOGNAME="$RUN_USER" SHELL=/bin/bash LANG=C.UTF-8
               PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    local v
    for v in CI TERM TEST_VERBOSE HARNESS_TIMER $(compgen -v APACHE_TEST_ || true); do
        [ -z "${!v+x}" ] || env+=("$v=${!v}")
    done
    (cd "$WORK" && "${RUN_AS[@]}" env -i "${env[@]}" "$@" </dev/null 9>&-)
}

run "autoreconf -fi"                        autoreconf -fi
# --enable-test-clock: a module clock the suite can move (src/util.h), so
# that expiry tests need not sleep; never in a package (debian/rules).
run "./configure --with-apxs=$APXS --enable-test-clock" \
    ./configure --with-apxs="$APXS" --enable-test-clock || {
    [ -f "$WORK/config.log" ] && { echo "--- tail of config.log ---"; tail -n 30 "$WORK/config.log"; }
    exit 1
}
run "make"                                  make -j"$(nproc)"
if [ $# -gt 0 ]; then
    run "perl t/TEST -apxs $APXS $*"        perl t/TEST -apxs "$APXS" "$@"
else
    run "t/mock/selftest.py"                /usr/bin/python3 t/mock/selftest.py
    run "make unit"                         make unit
    # The Debian package, built, installed into this machine's own Apache,
    # signed in through once and purged again (as root: it installs a package).
    if is_root; then
        STEP="scripts/package-test.sh"
        say "$STEP"
        "$ENTRA_TOP/scripts/package-test.sh" 9>&-
    else
        say "skipping scripts/package-test.sh (the Debian package test needs root)"
    fi
    # The Apache::Test suite runs once, against the module built with ASan
    # and UBSan (hardening's apache-asan step: any sanitizer report fails
    # it); then fuzzing, and the unit tests under ASan, valgrind and TSan.
    run "scripts/hardening.sh"              scripts/hardening.sh
fi
