#!/bin/bash
# Install the Debian 12 packages that building, testing, the demo and the
# benchmark of mod_auth_entra need. Idempotent: when everything is already
# installed it does not touch apt at all.
#
#   scripts/install-deps.sh            install what is missing (as root)
#   scripts/install-deps.sh --check    only report; exit 1 when something is missing
set -euo pipefail

PACKAGES=(
    # build
    apache2 apache2-dev libcurl4-openssl-dev libcjose-dev libjansson-dev libssl-dev zlib1g-dev
    autoconf automake libtool pkg-config make gcc
    # tests (Apache::Test ships in libapache2-mod-perl2) and the mock Entra
    libapache2-mod-perl2 libwww-perl libhttp-cookies-perl python3 python3-cryptography
    # the session stores the socache tests run against
    redis-server memcached
    # hardening: libFuzzer, sanitizer runtimes, valgrind
    clang-14 libclang-rt-14-dev valgrind
    # the Debian package (scripts/package-test.sh): dpkg-buildpackage, dh (dh_apache2
    # comes with apache2-dev), lintian
    dpkg-dev debhelper fakeroot lintian
    # scripts, demo, benchmark
    curl wrk rsync
    # benchmark: the peer it is compared with
    libapache2-mod-auth-openidc
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "${1:-}" = --check ]; then
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root to install them (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
STAMP=/var/cache/mod_auth_entra/apt-update.stamp

apt_update() {
    echo "install-deps: apt-get update"
    "${APT[@]}" update
    mkdir -p "$(dirname "$STAMP")" && touch "$STAMP"
}

# Package lists younger than a day, and younger than the sources they come
# from, are fresh enough: skip the update.
lists_fresh() {
    local src
    [ -n "$(find "$STAMP" -maxdepth 0 -mmin -1440 2>/dev/null)" ] && return 0
    ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || return 1
    [ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin -1440 2>/dev/null)" ] || return 1
    for src in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ ! -e "$src" ] || [ ! "$src" -nt /var/lib/apt/lists ] || return 1
    done
}
fresh=
if lists_fresh; then
    fresh=1
    echo "install-deps: package lists are less than a day old, not updating"
else
    apt_update
fi

echo "install-deps: apt-get install ${missing[*]}"
if ! "${APT[@]}" install "${missing[@]}"; then
    if [ -n "$fresh" ]; then
        # The lists may name versions the mirror no longer has: refresh once, retry.
        apt_update
        "${APT[@]}" install "${missing[@]}"
    else
        exit 1
    fi
fi
echo "install-deps: done"
