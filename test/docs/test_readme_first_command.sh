#!/bin/bash
# README's first command, the package installation part (up to the build), must work as root on a
# machine without sudo (a container, a fresh VM) and as a user with sudo. Run with stubs of id,
# sudo and apt-get on an otherwise empty PATH; the stubs log what ran.
set -u
readme="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first line of the first sh block after "## The two commands", up to the build.
line=$(awk '/^## The two commands/ {on = 1} on && /^ *```sh/ {getline; print; exit}' "$readme")
install=${line%%&& cmake -S*}
install=$(echo "$install" | sed 's/^ *//')
if [ -z "$install" ] || [ "$install" = "$line" ]; then
    echo "cannot find the install command in $readme"
    exit 1
fi

make_stubs() { # $1: uid, $2: with sudo (1/0)
    rm -rf "$work/bin" && mkdir -p "$work/bin"
    printf '#!/bin/bash\n[ "$1" = -u ] && echo %s\n' "$1" >"$work/bin/id"
    printf '#!/bin/bash\necho "apt-get $1 uid=$BT_UID" >>"%s/log"\n' "$work" >"$work/bin/apt-get"
    if [ "$2" = 1 ]; then
        printf '#!/bin/bash\nexport BT_UID=0\nexec "$@"\n' >"$work/bin/sudo"
    fi
    chmod +x "$work/bin/"*
}

check() { # $1: what, $2: uid, $3: with sudo
    make_stubs "$2" "$3"
    : >"$work/log"
    if ! env -i PATH="$work/bin" BT_UID="$2" /bin/bash -c "$install" >"$work/out" 2>&1; then
        echo "$1: the install command failed:"
        cat "$work/out"
        exit 1
    fi
    expected=$'apt-get update uid=0\napt-get install uid=0'
    if [ "$(cat "$work/log")" != "$expected" ]; then
        echo "$1: apt-get did not run update and install as root; it ran:"
        cat "$work/log"
        exit 1
    fi
    echo "$1: ok"
}

check "root without sudo" 0 0
check "user with sudo" 1000 1
