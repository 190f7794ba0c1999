#!/usr/bin/env bats
# completions/ekn.bash: options come from each command's --completion-helper.
load helper

setup() {
    # shellcheck source=../completions/ekn.bash
    source "$EKN_SRC/completions/ekn.bash"
    cd "$BATS_TEST_TMPDIR" || return 1
}

has_reply() {
    local w
    for w in "${COMPREPLY[@]}"; do [[ $w == "$1" ]] && return 0; done
    fail "COMPREPLY (${COMPREPLY[*]}) lacks '$1'"
}

@test "the completion file registers _ekn for the commands" {
    run complete -p ekn-info
    assert_success
    assert_output --partial "-F _ekn"
    run complete -p ekn-train
    assert_output --partial "-F _ekn"
}

@test "ekn-info --su completes to --summary" {
    ekn_need_bin ekn-info
    complete_words ekn-info --su
    has_reply --summary
    ((${#COMPREPLY[@]} == 1))
}

@test "ekn-train --l offers --lr" {
    ekn_need_bin ekn-train
    complete_words ekn-train --l
    has_reply --lr=
}

@test "an option that takes a value completes to NAME= for every command" {
    complete_words ekn-info --for
    [[ ${COMPREPLY[*]} == --format= ]]
    complete_words ekn-info --
    has_reply --help
    has_reply --count
    has_reply --format=
}

@test "choices of an option come from --help, after '=' or as the next word" {
    ekn_need_bin ekn-info
    # bash splits --format=t at '=' (COMP_WORDBREAKS)
    complete_words ekn-info --format = t
    has_reply text
    has_reply tsv
    complete_words ekn-info --format =
    has_reply text
    complete_words ekn-info --format ts
    [[ ${COMPREPLY[*]} == tsv ]]
    complete_words ekn-info --format=te
    [[ ${COMPREPLY[*]} == text ]]
}

@test "other words complete as file names" {
    touch train.ekn val.ekn notes.txt
    complete_words ekn-info tr
    [[ ${COMPREPLY[*]} == train.ekn ]]
    complete_words ekn-info --summary ''
    has_reply train.ekn
    has_reply notes.txt
}

@test "the cache holds each command's options" {
    complete_words ekn-info --s
    [[ -n ${_ekn_opts_cache[ekn-info]} ]]
    [[ ${_ekn_opts_cache[ekn-info]} == *--summary* ]]
}

@test "completions/_ekn names the same commands and is valid zsh" {
    local bash_cmds zsh_cmds
    bash_cmds=$(sed -n 's/^complete -F _ekn //p' "$EKN_SRC/completions/ekn.bash" | tr ' ' '\n' | sort)
    zsh_cmds=$(sed -n '1s/^#compdef //p' "$EKN_SRC/completions/_ekn" | tr ' ' '\n' | sort)
    [[ $bash_cmds == "$zsh_cmds" ]] || fail "bash: $bash_cmds / zsh: $zsh_cmds"
    local c
    for c in "$EKN_BIN"/ekn-*; do
        grep -qw -- "${c##*/}" <<<"$bash_cmds" || fail "${c##*/} is not in the completion files"
    done
    command -v zsh >/dev/null || skip "zsh is not installed"
    zsh -n "$EKN_SRC/completions/_ekn"
    # the specs it hands to _arguments
    run zsh -f -c '
        _arguments() { print -rl -- "$@" }
        _call_program() { shift; eval "$@" }
        t() { local -a words; words=(ekn-info); source "'"$EKN_SRC"'/completions/_ekn" }
        t'
    assert_success
    assert_line --partial "--summary[print totals"
    assert_line "--format=[output format (text|tsv) \[text\]]:format:(text tsv)"
    assert_line "*:file:_files"
}
