#!/bin/sh
# The include rules of lib/README: each wing of lib/ includes only its own
# headers, those of the wings below it, and kernels/; kernels/ include no
# lib/ header.  Prints every breach as FILE:LINE and exits 1 if there is one.
cd "$(dirname "$0")/.." || exit 2
below() { # the wings a wing may include, itself first
    case $1 in
    core) echo core ;;
    data) echo data core ;;
    nn) echo nn data core ;;
    plot) echo plot nn data core ;;
    esac
}
wing_of() { # the wing that holds header $1, or nothing
    for w in core data nn plot; do [ -f "lib/$w/$1" ] && { echo "$w"; return; }; done
}
bad=0
for w in core data nn plot; do
    allowed=$(below "$w")
    for f in lib/"$w"/*.[ch]; do
        grep -n '^#include "' "$f" | while IFS= read -r line; do
            h=$(printf '%s\n' "$line" | sed 's/.*#include "\([^"]*\)".*/\1/')
            [ -f "kernels/$h" ] && continue
            hw=$(wing_of "$h")
            case " $allowed " in *" $hw "*) ;; *) echo "$f:${line%%:*}: wing '$w' includes '$h' (${hw:-not in lib/})"; exit 1 ;; esac
        done || bad=1
    done
done
exit $bad
