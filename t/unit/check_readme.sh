#!/bin/sh
# The README's directive reference must name exactly the directives the
# module's table has: no undocumented directive, no documented ghost. And
# every file the "tested by" tables name (from "Errors an administrator
# sees" to the directive reference) must exist, so those tables cannot rot.
top=${1:-.}
missing=$(sed -n '/^### Errors an administrator sees/,/^## Directive reference/p' "$top/README" \
          | grep -o '`\(t\|fuzz\|scripts\)/[A-Za-z0-9_./-]*\.\(t\|c\|sh\|pm\|py\)`' | tr -d '`' | sort -u \
          | while read -r f; do [ -e "$top/$f" ] || echo "$f"; done)
named=$(sed -n '/^### Errors an administrator sees/,/^## Directive reference/p' "$top/README" \
        | grep -o '`\(t\|fuzz\|scripts\)/[A-Za-z0-9_./-]*\.\(t\|c\|sh\|pm\|py\)`' | sort -u | wc -l)
if [ -n "$missing" ] || [ "$named" -lt 20 ]; then
    echo "README names test files that do not exist (or too few, $named, were found):"
    echo "$missing"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "README tested-by tables: $named files named, all exist"
# the names in the command table (SERVER_CMD / AP_INIT_* entries), not every
# "Entra..." string of the file (such as the AuthType name "Entra")
table=$(sed -n 's/^[[:space:]]*\(SERVER_CMD\|AP_INIT_[A-Z0-9]*\)("\(Entra[A-Za-z]*\)".*/\2/p' \
        "$top/mod_auth_entra.c" | sort -u)
readme=$(grep -o '^#### `Entra[A-Za-z]*' "$top/README" | sed 's/^#### `//' | sort -u)
if [ "$table" = "$readme" ]; then
    echo "README directive reference: $(echo "$table" | wc -l) directives, all documented"
    echo "2 passed, 0 failed"
    exit 0
fi
echo "README directive reference differs from the directive table:"
diff -u /dev/fd/3 /dev/fd/4 3<<T 4<<R
$table
T
$readme
R
echo "0 passed, 1 failed"
exit 1
