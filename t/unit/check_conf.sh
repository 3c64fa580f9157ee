#!/bin/sh
# conf/auth_entra.conf (what the Debian package installs in mods-available)
# is an annotated reference: it must name exactly the directives the module's
# table has, each once as a commented-out directive line ("#EntraName ..."),
# and set nothing (every line a comment, blank, or the <IfModule> around them).
top=${1:-.}
conf=$top/conf/auth_entra.conf
load=$top/conf/auth_entra.load
failed=0
# the names in the command table (SERVER_CMD / AP_INIT_* entries), not every
# "Entra..." string of the file (such as the AuthType name "Entra")
table=$(sed -n 's/^[[:space:]]*\(SERVER_CMD\|AP_INIT_[A-Z0-9]*\)("\(Entra[A-Za-z]*\)".*/\2/p' \
        "$top/mod_auth_entra.c" | sort -u)
documented=$(sed -n 's/^[[:space:]]*#\(Entra[A-Za-z]*\)\([[:space:]].*\)\{0,1\}$/\1/p' "$conf" | sort -u)
if [ "$table" != "$documented" ]; then
    echo "conf/auth_entra.conf differs from the directive table:"
    diff -u /dev/fd/3 /dev/fd/4 3<<T 4<<R
$table
T
$documented
R
    failed=1
fi
active=$(grep -nv '^[[:space:]]*#' "$conf" | grep -v '^[0-9]*:[[:space:]]*$' |
         grep -v '^[0-9]*:[[:space:]]*</\{0,1\}IfModule[[:space:]>]' | grep -v '^[0-9]*:</IfModule>$')
if [ -n "$active" ]; then
    echo "conf/auth_entra.conf sets something (every directive must be commented out):"
    echo "$active"
    failed=1
fi
if ! grep -q '^LoadModule auth_entra_module /usr/lib/apache2/modules/mod_auth_entra.so$' "$load" ||
   ! grep -q '^# Depends: ' "$load"; then
    echo "conf/auth_entra.load lacks its # Depends: line or the LoadModule of /usr/lib/apache2/modules/mod_auth_entra.so"
    failed=1
fi
if [ "$failed" -eq 0 ]; then
    echo "conf/auth_entra.conf: $(echo "$table" | wc -l) directives, all documented, all commented out"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
