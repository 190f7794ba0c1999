#!/bin/sh
# The include rules of lib/README: each wing of lib/ includes only its own
# headers, those of the wings below it, and kernels/ (with kernels/cuda/);
# kernels/ and kernels/cuda/ include no lib/ header: a quoted include there
# names a header of kernels/ or kernels/cuda/, and no include, quoted or
# not, names one of lib/.  Prints every breach as FILE:LINE and exits 1 if
# there is one.
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
in_kernels() { [ -f "kernels/$1" ] || [ -f "kernels/cuda/$1" ]; }
bad=0
for w in core data nn plot; do
    allowed=$(below "$w")
    for f in lib/"$w"/*.[ch]; do
        grep -n '^#include "' "$f" | while IFS= read -r line; do
            h=$(printf '%s\n' "$line" | sed 's/.*#include "\([^"]*\)".*/\1/')
            in_kernels "$h" && continue
            hw=$(wing_of "$h")
            case " $allowed " in *" $hw "*) ;; *) echo "$f:${line%%:*}: wing '$w' includes '$h' (${hw:-not in lib/})"; exit 1 ;; esac
        done || bad=1
    done
done
for f in kernels/*.[ch] kernels/*.cu kernels/cuda/*.[ch] kernels/cuda/*.cu; do
    [ -f "$f" ] || continue
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$f" | {
        rc=0
        while IFS= read -r line; do
            h=$(printf '%s\n' "$line" | sed 's/^[^#]*#[[:space:]]*include[[:space:]]*["<]\([^">]*\)[">].*/\1/')
            hw=$(wing_of "${h##*/}")
            if [ -n "$hw" ]; then why="a lib/$hw header"
            else
                case $line in *'include'*'<'*) continue ;; esac # a system header
                in_kernels "$h" && continue
                why="not a kernels/ header"
            fi
            echo "$f:${line%%:*}: kernels include '$h' ($why)"
            rc=1
        done
        exit $rc
    } || bad=1
done
exit $bad
