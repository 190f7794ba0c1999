#!/usr/bin/env bats
# Rules every ekn-* command follows (CONVENTIONS 9, 10, 18).  The commands are
# listed when the tests run, so a new binary is covered without editing this file.
load helper

setup() {
    COMMANDS=()
    local b
    for b in "$EKN_BIN"/ekn-*; do
        [[ -x $b && -f $b ]] && COMMANDS+=("${b##*/}")
    done
    ((${#COMMANDS[@]})) || fail "no ekn-* binaries in $EKN_BIN (build first)"
    FAILURES=()
}

# Collects one failure and goes on, so one run reports every command.
failed() { FAILURES+=("$*"); }

report() {
    if ((${#FAILURES[@]})); then
        printf '%s\n' "${FAILURES[@]}" >&2
        fail "${#FAILURES[@]} rule(s) broken"
    fi
}

# Long option names (without dashes) in the OPTIONS section of man/$1.1:
# `.It Fl -name`, `.It Fl Fl name`, `.It Fl n , Fl -name Ar x`.
man_options() {
    sed -n '/^\.Sh OPTIONS/,/^\.Sh /p' "$EKN_SRC/man/$1.1" |
        grep '^\.It' |
        grep -oE 'Fl (Fl |\\?-)[A-Za-z0-9][A-Za-z0-9-]*' |
        sed -E 's/^Fl (Fl |\\?-)//' | sort -u
}

@test "every command: --help prints the usage on stdout and exits 0" {
    local c
    for c in "${COMMANDS[@]}"; do
        run --separate-stderr "$c" --help
        refute_crash
        ((status == 0)) || failed "$c --help: exit $status"
        [[ -z $stderr ]] || failed "$c --help: wrote to stderr: $stderr"
        [[ ${lines[0]:-} == "usage: $c "* ]] || failed "$c --help: first line is not 'usage: $c ...': ${lines[0]:-}"
        [[ $output == *--help* ]] || failed "$c --help: does not list --help"
    done
    report
}

@test "every command: -h is --help" {
    local c
    for c in "${COMMANDS[@]}"; do
        run --separate-stderr "$c" --help
        local long=$output
        run --separate-stderr "$c" -h
        ((status == 0)) || failed "$c -h: exit $status"
        [[ $output == "$long" ]] || failed "$c -h: differs from --help"
    done
    report
}

@test "every command: --version prints one line and exits 0" {
    local c
    for c in "${COMMANDS[@]}"; do
        run --separate-stderr "$c" --version
        refute_crash
        ((status == 0)) || failed "$c --version: exit $status"
        [[ -z $stderr ]] || failed "$c --version: wrote to stderr: $stderr"
        ((${#lines[@]} == 1)) || failed "$c --version: ${#lines[@]} lines"
        [[ ${lines[0]:-} == "$c "* ]] || failed "$c --version: does not start with the name: ${lines[0]:-}"
    done
    report
}

@test "every command: an unknown option exits 2, names it, hints at --help, prints nothing on stdout" {
    local c
    for c in "${COMMANDS[@]}"; do
        run --separate-stderr "$c" --no-such-option-9
        refute_crash
        ((status == 2)) || failed "$c --no-such-option-9: exit $status, expected 2"
        [[ -z $output ]] || failed "$c --no-such-option-9: wrote to stdout: $output"
        [[ $stderr == "$c: "*"unknown option"*"--no-such-option-9"* ]] ||
            failed "$c --no-such-option-9: stderr lacks \"$c: unknown option '--no-such-option-9'\": $stderr"
        [[ $stderr == *"Try '$c --help' for more information."* ]] ||
            failed "$c --no-such-option-9: stderr lacks the --help hint: $stderr"
        run --separate-stderr "$c" -Q
        ((status == 2)) || failed "$c -Q: exit $status, expected 2"
        [[ -z $output ]] || failed "$c -Q: wrote to stdout: $output"
    done
    report
}

@test "every command: --help states each default once" {
    # a default the help text gives in brackets ("[auto]", "[sgd; ...]") and
    # the engine's "[auto]" after it would say the same thing twice
    local c bad
    for c in "${COMMANDS[@]}"; do
        bad=$("$c" --help | grep -E '\[([A-Za-z0-9_.-]+)[]:;].*\[\1\]$') &&
            failed "$c --help: a default twice: $bad"
    done
    report
}

@test "every command: --completion-helper prints long options, --help among them" {
    local c l
    for c in "${COMMANDS[@]}"; do
        run --separate-stderr "$c" --completion-helper
        refute_crash
        ((status == 0)) || failed "$c --completion-helper: exit $status"
        [[ -z $stderr ]] || failed "$c --completion-helper: wrote to stderr: $stderr"
        for l in "${lines[@]}"; do
            [[ $l =~ ^--[A-Za-z0-9][A-Za-z0-9-]*=?$ ]] || failed "$c --completion-helper: not a long option: '$l'"
        done
        printf '%s\n' "${lines[@]}" | grep -qx -- '--help' || failed "$c --completion-helper: no --help"
        printf '%s\n' "${lines[@]}" | grep -qx -- '--version' || failed "$c --completion-helper: no --version"
    done
    report
}

@test "every command: the man page's OPTIONS and --completion-helper list the same long options" {
    local c missing=()
    for c in "${COMMANDS[@]}"; do
        if [[ ! -f $EKN_SRC/man/$c.1 ]]; then
            missing+=("$c")
            continue
        fi
        local doc code
        doc=$(man_options "$c")
        code=$("$EKN_BIN/$c" --completion-helper | sed -e 's/^--//' -e 's/=$//' | sort -u)
        local only_doc only_code
        only_doc=$(comm -23 <(printf '%s\n' "$doc") <(printf '%s\n' "$code") | sed '/^$/d')
        only_code=$(comm -13 <(printf '%s\n' "$doc") <(printf '%s\n' "$code") | sed '/^$/d')
        [[ -z $only_doc ]] || failed "man/$c.1 documents options $c does not have: $(echo $only_doc)"
        [[ -z $only_code ]] || failed "$c has options man/$c.1 does not document: $(echo $only_code)"
    done
    report
    if ((${#missing[@]})); then
        skip "no man page yet for: ${missing[*]}"
    fi
}

@test "every command is listed in ekn(7)" {
    local c page="$EKN_SRC/man/ekn.7"
    [[ -f $page ]] || skip "no man/ekn.7"
    for c in "${COMMANDS[@]}"; do
        grep -q "^\.It Xr $c 1\$" "$page" || failed "man/ekn.7 does not list $c under Commands (.It Xr $c 1)"
    done
    report
}
