# bash completion for the ekn-* commands.
#
# Option names come from `<command> --completion-helper` (one long option a
# line; a trailing '=' means it takes a value), cached per command for the
# shell session, so the completion never drifts from the command.  The
# choices of an option (--format table|shell|json) come from the command's
# --help line "(a|b|c)".  Every other word completes as a file name.
#
# Install: source this file, or copy it to
# /usr/share/bash-completion/completions/<command> for each command.

declare -gA _ekn_opts_cache _ekn_help_cache

# Commands whose first operand is one of a few words, e.g. ekn-plot's picture.
declare -gA _ekn_first_words=([ekn-plot]="log image filters confusion")

# Fills the caches for command $1 (not in a subshell, so they persist).
_ekn_load()
{
    local cmd=$1
    if [[ -z ${_ekn_opts_cache[$cmd]+set} ]]; then
        _ekn_opts_cache[$cmd]=$("$cmd" --completion-helper 2>/dev/null)
    fi
    if [[ -z ${_ekn_help_cache[$cmd]+set} ]]; then
        _ekn_help_cache[$cmd]=$("$cmd" --help 2>/dev/null)
    fi
}

# The choices of option $2 (with dashes) of command $1, from its --help, one a line.
_ekn_choices()
{
    local cmd=$1 opt=$2 line
    while IFS= read -r line; do
        [[ $line == *" $opt "* || $line == *" $opt" ]] || continue
        if [[ $line =~ \(([A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)+)\) ]]; then
            printf '%s\n' ${BASH_REMATCH[1]//|/ }
        fi
        return
    done <<<"${_ekn_help_cache[$cmd]}"
}

# Completes a value of option $2 (with dashes) for command $1 from prefix $3.
_ekn_value()
{
    local choices
    choices=$(_ekn_choices "$1" "$2")
    if [[ -n $choices ]]; then
        COMPREPLY=($(compgen -W "$choices" -- "$3"))
    else
        _ekn_files "$3"
    fi
}

# The long name of short option $2 (e.g. -o) of command $1, from its --help.
_ekn_long_of()
{
    local line
    while IFS= read -r line; do
        if [[ $line =~ ^\ +$2,\ (--[A-Za-z0-9-]+) ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
            return
        fi
    done <<<"${_ekn_help_cache[$1]}"
}

# True when one of the words before the cursor is one of the words $1.
_ekn_word_given()
{
    local i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        for w in $1; do [[ ${COMP_WORDS[i]} == "$w" ]] && return 0; done
    done
    return 1
}

_ekn_files()
{
    compopt -o filenames 2>/dev/null || true
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$1"))
}

_ekn()
{
    local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD - 1]:-} prev2=${COMP_WORDS[COMP_CWORD - 2]:-}
    COMPREPLY=()
    _ekn_load "${COMP_WORDS[0]}"
    local opts=${_ekn_opts_cache[${COMP_WORDS[0]}]}

    # --opt=value: bash splits it at '=' when '=' is in COMP_WORDBREAKS
    if [[ $cur == = && $prev == --* ]]; then
        _ekn_value "${COMP_WORDS[0]}" "$prev" ""
        return 0
    fi
    if [[ $prev == = && $prev2 == --* ]]; then
        _ekn_value "${COMP_WORDS[0]}" "$prev2" "$cur"
        return 0
    fi
    if [[ $cur == --*=* ]]; then
        local opt=${cur%%=*}
        _ekn_value "${COMP_WORDS[0]}" "$opt" "${cur#*=}"
        return 0
    fi
    # --opt value
    if [[ $prev == --* ]] && grep -qxF -- "$prev=" <<<"$opts"; then
        _ekn_value "${COMP_WORDS[0]}" "$prev" "$cur"
        return 0
    fi
    # -o value: the short option's long name tells whether it takes one
    if [[ $prev =~ ^-[A-Za-z0-9]$ ]]; then
        local long
        long=$(_ekn_long_of "${COMP_WORDS[0]}" "$prev")
        if [[ -n $long ]] && grep -qxF -- "$long=" <<<"$opts"; then
            _ekn_value "${COMP_WORDS[0]}" "$long" "$cur"
            return 0
        fi
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        # an option that takes a value completes without the trailing space
        if [[ ${COMPREPLY[*]} == *= || ${COMPREPLY[*]} == *=\ * ]]; then
            compopt -o nospace 2>/dev/null || true
        fi
        return 0
    fi
    local first=${_ekn_first_words[$cmd]:-}
    if [[ -n $first ]] && ! _ekn_word_given "$first"; then
        COMPREPLY=($(compgen -W "$first" -- "$cur"))
        return 0
    fi
    _ekn_files "$cur"
    return 0
}

complete -F _ekn ekn-preprocess ekn-info ekn-calc ekn-train ekn-predict ekn-batch ekn-augment ekn-plot
