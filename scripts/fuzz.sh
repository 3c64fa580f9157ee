#!/bin/bash
# Build the libFuzzer targets (fuzz/fuzz_*.c, clang-14 with ASan + UBSan) and
# run each for a while, starting from its committed seeds (fuzz/corpus/<target>).
#
#   scripts/fuzz.sh                    every target, 60 s each
#   scripts/fuzz.sh 600                every target, 10 minutes each
#   scripts/fuzz.sh 30 fuzz_jwt ...    only these targets
#
# Exits 1 when any target crashes, leaks, hits undefined behaviour, times out
# on one input or breaks one of its oracles; the input is kept as
# $FUZZ_BUILD/artifacts/<target>/crash-... and the command that replays it is
# printed. Works as root or as any user; nothing here needs a server.
#
# Settings (environment):
#   FUZZ_BUILD   build directory (default fuzz/build in the tree, or
#                /var/tmp/mod_auth_entra-fuzz-$USER when the tree is read-only);
#                new corpus entries accumulate in $FUZZ_BUILD/corpus/<target>
#   FUZZ_JOBS    targets run side by side (default 1)
#   FUZZ_ARGS    extra libFuzzer flags, e.g. "-only_ascii=1"
#   CLANG        the compiler (default clang-14)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${1:-60}
[ $# -eq 0 ] || shift
case $SECS in ''|*[!0-9]*) die "usage: $0 [seconds-per-target] [target...]" ;; esac
CLANG=${CLANG:-clang-14}
JOBS=${FUZZ_JOBS:-1}

if [ -n "${FUZZ_BUILD:-}" ]; then
    BUILD=$FUZZ_BUILD
elif [ -w "$ENTRA_TOP/fuzz" ]; then
    BUILD=$ENTRA_TOP/fuzz/build
else
    BUILD=/var/tmp/mod_auth_entra-fuzz-$(id -un)
fi

command -v "$CLANG" >/dev/null ||
    die "$CLANG not found: install the Debian packages clang-14 and libclang-rt-14-dev"
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
    [ "$CLANG" != clang-14 ] ||
    die "libFuzzer's runtime is missing: install the Debian package libclang-rt-14-dev"

MK=(make -s -f "$ENTRA_TOP/fuzz/fuzz.mk" SRCDIR="$ENTRA_TOP" BUILD="$BUILD" CLANG="$CLANG")
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    read -ra TARGETS <<<"$("${MK[@]}" list)"
fi

say "building ${#TARGETS[@]} fuzz targets with $CLANG in $BUILD"
mkdir -p "$BUILD/logs"
if ! "${MK[@]}" -j"$(nproc)" "${TARGETS[@]/#/$BUILD/}" >"$BUILD/logs/build.log" 2>&1; then
    tail -n 40 "$BUILD/logs/build.log" >&2
    die "building the fuzz targets failed (log: $BUILD/logs/build.log)"
fi

# dict TARGET: the dictionary a target gets.
dict() {
    case $1 in
        fuzz_jwt) echo jwt ;;
        fuzz_jwks|fuzz_metadata|fuzz_claims|fuzz_token_answer|fuzz_challenge) echo json ;;
        fuzz_form|fuzz_callback|fuzz_return_path|fuzz_b64url) echo url ;;
        fuzz_headers|fuzz_chunks) echo cookie ;;
        fuzz_session|fuzz_state) echo pairs ;;
        *) echo "" ;;
    esac
}

# fuzz_one TARGET: runs it; its log in $BUILD/logs/TARGET.log, status in .rc
fuzz_one() {
    local t=$1 d log=$BUILD/logs/$1.log rc=0
    local args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1
                -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/")
    mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
    d=$(dict "$t")
    [ -z "$d" ] || [ ! -f "$ENTRA_TOP/fuzz/dict/$d.dict" ] || args+=(-dict="$ENTRA_TOP/fuzz/dict/$d.dict")
    # shellcheck disable=SC2086
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        timeout -k 10 $((SECS + 120)) "$BUILD/$t" "${args[@]}" ${FUZZ_ARGS:-} \
        "$BUILD/corpus/$t" "$ENTRA_TOP/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    echo "$rc" >"$BUILD/logs/$t.rc"
}

say "fuzzing each target for ${SECS}s ($JOBS at a time); logs in $BUILD/logs"
T0=$(date +%s)
running=0
for t in "${TARGETS[@]}"; do
    [ -x "$BUILD/$t" ] || die "no such fuzz target: $t (targets: $("${MK[@]}" list))"
    rm -f "$BUILD/logs/$t.rc"
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

# newest DIR: the name of the newest file in DIR (a crash input), or nothing.
newest() {
    find "$1" -maxdepth 1 -type f -printf '%T@ %f\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-
}

passed=0 failed=0
printf '    %-18s %6s %10s %8s %6s %7s  %s\n' target result execs exec/s cov corpus notes
for t in "${TARGETS[@]}"; do
    log=$BUILD/logs/$t.log
    rc=$(cat "$BUILD/logs/$t.rc" 2>/dev/null || echo 99)
    execs=$(awk '/stat::number_of_executed_units/ { v = $NF } END { print v }' "$log" 2>/dev/null || true)
    eps=$(awk '/stat::average_exec_per_sec/ { v = $NF } END { print v }' "$log" 2>/dev/null || true)
    cov=$(awk '/ cov: / { for (i = 1; i < NF; i++) if ($i == "cov:") v = $(i + 1) } END { print v }' "$log" 2>/dev/null || true)
    corp=$(awk '/ corp: / { for (i = 1; i < NF; i++) if ($i == "corp:") { v = $(i + 1); sub("/.*", "", v) } } END { print v }' "$log" 2>/dev/null || true)
    note=""
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)) result=ok
    else
        failed=$((failed + 1)) result=FAIL
        art=$(newest "$BUILD/artifacts/$t")
        note="exit $rc${art:+, input $BUILD/artifacts/$t/$art}"
    fi
    printf '    %-18s %6s %10s %8s %6s %7s  %s\n' "$t" "$result" "${execs:--}" "${eps:--}" \
        "${cov:--}" "${corp:--}" "$note"
done
for t in "${TARGETS[@]}"; do
    [ "$(cat "$BUILD/logs/$t.rc" 2>/dev/null || echo 99)" -ne 0 ] || continue
    echo
    echo "--- $t: end of $BUILD/logs/$t.log ---"
    grep -v '^#[0-9]' "$BUILD/logs/$t.log" | tail -n 60
    art=$(newest "$BUILD/artifacts/$t")
    [ -z "$art" ] || echo "replay: FUZZ_VERBOSE=1 $BUILD/$t $BUILD/artifacts/$t/$art"
done
echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECS}s each, $(( $(date +%s) - T0 ))s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
