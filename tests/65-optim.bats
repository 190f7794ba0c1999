#!/usr/bin/env bats
# ekn-train's optimisers: each lowers the loss of a tiny net and logs its
# diagnostics, each resumes bit-identically from a checkpoint, the control
# file switches optimiser mid-run, and bad names and parameters are usage
# errors.  The update rules themselves are checked in tests/unit/test_optim.c.
load helper
load synth

# h5_get FILE DATASET: the dataset's value (strings decoded).
h5_get() {
    ekn_py -c 'import sys, h5py; v = h5py.File(sys.argv[1])[sys.argv[2]][()]
print(v.decode() if isinstance(v, bytes) else v)' "$1" "$2"
}

# Options of each optimiser on the tiny MLP (the line-search ones see
# bigger batches, as ELEKTRONN's guide advises).
opts_for() {
    case $1 in
    sgd | nesterov) echo --batch 16 --lr 0.05 --momentum 0.9 ;;
    rprop) echo --batch 64 ;;
    cg) echo --batch 128 --opt-param max_step=0.5 ;;
    lbfgs) echo --batch 128 ;;
    adam | adamw) echo --batch 16 --lr 0.01 --weight-decay 0.001 ;;
    esac
}

# learns NAME: 60 steps on the linear rule of vec.ekn; the mean loss of the
# last two log rows is below 0.7 x that of the first two; step_size, beta
# and evals are filled as documented.
learns() {
    local name=$1 many=0
    [[ $name == cg || $name == lbfgs ]] && many=1
    # shellcheck disable=SC2046
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer "$name" $(opts_for "$name") \
        --seed 3 --steps 60 --log run.tsv --log-every 5 --gain-every 0 -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_success
    assert_no_stdout
    run awk -F'\t' 'NR > 1 { l[++n] = $5 } END { a = (l[1] + l[2]) / 2; b = (l[n] + l[n-1]) / 2;
        printf "first %g last %g\n", a, b; exit !(b < 0.7 * a) }' run.tsv
    echo "$output"
    assert_success
    run awk -F'\t' -v name="$name" -v many=$many '
        NR == 1 { if ($15 != "step_size" || $16 != "beta" || $17 != "evals") { print "header " $0; bad = 1 } }
        NR > 1 {
            if (many ? $17 < 2 : $17 != 1) { print "row " NR ": evals " $17; bad = 1 }
            if ((name == "cg" || name == "lbfgs" || name == "rprop") == ($15 == "nan")) { print "row " NR ": step_size " $15; bad = 1 }
            if ((name == "cg") == ($16 == "nan")) { print "row " NR ": beta " $16; bad = 1 }
            if (name == "cg" && $16 < 0) { print "row " NR ": beta < 0"; bad = 1 }
        }
        END { exit bad }' run.tsv
    echo "$output"
    assert_success
    run h5_get m.h5 /optimizer/name
    assert_output "$name"
}

@test "sgd lowers the loss; evals 1, step_size and beta nan" { learns sgd; }
@test "nesterov lowers the loss" { learns nesterov; }
@test "rprop lowers the loss and logs its mean step size" { learns rprop; }
@test "cg lowers the loss and logs its accepted step, beta >= 0 and several evaluations" { learns cg; }
@test "lbfgs lowers the loss and logs its accepted step and evaluations" { learns lbfgs; }
@test "adam lowers the loss" { learns adam; }
@test "adamw lowers the loss" { learns adamw; }

# resumes NAME [OPT_PARAMS]: 40 steps against 20 + resumed 20, with dropout
# and input noise, give bit-identical parameters and optimiser state.
resumes() {
    local name=$1 params=${2:+--opt-param=$2}
    local o=(--spec "$NETS/tiny-img-scalar.spec" --optimizer "$name" $params --batch 32 --lr 0.01 --seed 5)
    run --separate-stderr ekn-train "${o[@]}" --steps 40 -o A.h5 "$D/img.ekn"
    assert_success
    run --separate-stderr ekn-train "${o[@]}" --steps 20 -o B.h5 "$D/img.ekn"
    assert_success
    run h5_same A.h5 B.h5
    assert_failure
    run --separate-stderr ekn-train --resume B.h5 "${o[@]:2}" --steps 40 -o B.h5 "$D/img.ekn"
    assert_success
    run h5_same A.h5 B.h5
    echo "$output"
    assert_success
}

@test "--resume: nesterov continues bit-identically" { resumes nesterov; }
@test "--resume: rprop continues bit-identically" { resumes rprop; }
@test "--resume: cg (direction carried across batches) continues bit-identically" { resumes cg restart=0,max_step=0.1; }
@test "--resume: lbfgs (history carried across batches) continues bit-identically" { resumes lbfgs restart=0,m=5; }
@test "--resume: adam continues bit-identically (its step count too)" {
    resumes adam
    run h5_get B.h5 /optimizer/t
    assert_output 40.0
}
@test "--resume: adamw continues bit-identically" { resumes adamw; }

@test "checkpoint: l-BFGS history is saved as (m, n) beside its parameters" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer lbfgs --opt-param m=3,restart=0 \
        --batch 64 --steps 5 -o m.h5 "$D/vec.ekn"
    assert_success
    run ekn_py -c 'import h5py; f = h5py.File("m.h5"); p = sum(f["params"][k].size for k in f["params"])
print(f["optimizer/s"].shape == (3, p), f["optimizer/y"].shape == (3, p), f["optimizer/count"][()],
      f["optimizer/params"][()].decode())'
    assert_output "True True 3.0 m=3,n_steps=4,max_evals=20,c1=0.0001,c2=0.90000000000000002,restart=0"
}

@test "--resume with another l-BFGS m exits 1 naming the optimiser" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer lbfgs --opt-param m=3 \
        --batch 64 --steps 5 -o m.h5 "$D/vec.ekn"
    assert_success
    run --separate-stderr ekn-train --resume m.h5 --optimizer lbfgs --opt-param m=4 --steps 10 -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    ((${#stderr_lines[@]} == 2)) || fail "expected the override and the error, got: $stderr"
    [[ ${stderr_lines[0]} == "ekn-train: --opt-param m=4 overrides the checkpoint's m=3" ]]
    [[ ${stderr_lines[1]} == "ekn-train: "*"optimiser 'lbfgs'"* ]]
}

@test "--control: 'optimizer cg max_step=0.1' switches mid-run with fresh state; resume with it continues" {
    local o=(--spec "$NETS/tiny-mlp.spec" --batch 32 --lr 0.05 --seed 2 --log-every 1 --gain-every 0)
    run --separate-stderr ekn-train "${o[@]}" --steps 10 --log run.tsv -o m.h5 "$D/vec.ekn"
    assert_success
    printf 'optimizer cg max_step=0.1\n' >ctl
    run --separate-stderr ekn-train --resume m.h5 "${o[@]:2}" --steps 20 --log run.tsv --control ctl -o m.h5 "$D/vec.ekn"
    assert_success
    assert_no_stdout
    [[ $stderr == *"control: optimizer cg max_step=0.1"* ]]
    [[ ! -e ctl ]]
    # sgd's rows have one evaluation, cg's several and a beta
    run awk -F'\t' 'NR > 1 { if (($1 <= 10) != ($17 == 1) || ($1 > 10) == ($16 == "nan")) { print; bad = 1 } }
        END { exit bad }' run.tsv
    assert_success
    run h5_get m.h5 /optimizer/name
    assert_output cg
    run h5_get m.h5 /optimizer/params
    assert_output --partial "max_step=0.10000000000000001"
    # without --optimizer the resumed run goes on with the switched-to cg, its parameters and state
    cp m.h5 before.h5
    run --separate-stderr ekn-train -v --resume m.h5 "${o[@]:2}" --steps 25 --log more.tsv -o m.h5 "$D/vec.ekn"
    assert_success
    [[ $stderr == *"going on with its optimiser cg"* ]]
    run h5_get m.h5 /optimizer/name
    assert_output cg
    run h5_get m.h5 /optimizer/params
    assert_output --partial "max_step=0.10000000000000001"
    run awk -F'\t' 'NR > 1 && $16 == "nan" { bad = 1 } END { exit bad }' more.tsv
    assert_success
    # and it is the same run as naming it again
    run --separate-stderr ekn-train --resume before.h5 "${o[@]:2}" --optimizer cg --opt-param max_step=0.1 --steps 25 \
        -o named.h5 "$D/vec.ekn"
    assert_success
    run h5_same m.h5 named.h5
    assert_success
    # --opt-param alone overrides one of the checkpoint's parameters
    run --separate-stderr ekn-train --resume before.h5 "${o[@]:2}" --opt-param max_step=0.2 --steps 25 -o p.h5 "$D/vec.ekn"
    assert_success
    run h5_get p.h5 /optimizer/params
    assert_output --partial "max_step=0.20000000000000001"
    # --optimizer on the command line still switches
    run --separate-stderr ekn-train --resume before.h5 "${o[@]:2}" --optimizer adam --steps 25 -o a.h5 "$D/vec.ekn"
    assert_success
    run h5_get a.h5 /optimizer/name
    assert_output adam
}

@test "--control: an unknown optimiser or parameter is reported and the run goes on with the current one" {
    printf 'optimizer adagrad\noptimizer adam beta3=1\nlr 0.02\n' >ctl
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 32 --steps 5 --control ctl -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_success
    [[ $stderr == *"'ctl':1: unknown optimiser 'adagrad'"*"; not run"* ]]
    [[ $stderr == *"'ctl':2: "*"has no parameter 'beta3' (known: beta1, beta2, eps); not run"* ]]
    [[ $stderr == *"control: lr 0.02"* ]]
    run h5_get m.h5 /optimizer/name
    assert_output sgd
}

@test "bad input: an unknown --optimizer is a usage error listing the known ones" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer adagrad --steps 1 -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 2
    assert_no_stdout
    [[ $stderr == *"adagrad"* && $stderr == *"lbfgs"* && $stderr == *"adamw"* ]]
    [[ ! -e m.h5 ]]
}

@test "bad input: an unknown --opt-param key is a usage error naming the valid keys" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer cg --opt-param alhpa=0.3 --steps 1 \
        -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 2
    assert_no_stdout
    [[ ${stderr_lines[0]} == "ekn-train: --opt-param: optimiser 'cg' has no parameter 'alhpa' (known: alpha, beta, max_step, min_step, n_steps, restart)" ]]
    [[ ${stderr_lines[1]} == "Try 'ekn-train --help' for more information." ]]
    [[ ! -e m.h5 ]]
}

@test "bad input: out-of-range or malformed --opt-param values are usage errors saying what was given" {
    local bad
    for bad in "lbfgs m=0" "lbfgs m=2.5" "adam beta1=1" "rprop eta_minus=2" "cg alpha" "sgd momentum=0.5"; do
        run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --optimizer "${bad%% *}" --opt-param "${bad#* }" \
            --steps 1 -o m.h5 "$D/vec.ekn"
        refute_crash
        echo "$bad: $stderr"
        assert_failure 2
        assert_no_stdout
        [[ ${stderr_lines[0]} == "ekn-train: --opt-param: "* ]]
    done
}

@test "completion: --optimizer offers the optimisers, --opt-param is an option" {
    complete_words ekn-train --optimizer l
    [[ ${COMPREPLY[*]} == lbfgs ]] || fail "COMPREPLY: ${COMPREPLY[*]}"
    complete_words ekn-train --opt-p
    [[ ${COMPREPLY[*]} == --opt-param= ]] || fail "COMPREPLY: ${COMPREPLY[*]}"
}

@test "--resume restores the run's settings; a given option overrides one, saying so" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 16 --lr 0.0123 --momentum 0.7 \
        --weight-decay 0.001 --seed 5 --steps 4 --log-every 1 --gain-every 0 -o m.h5 "$D/vec.ekn"
    assert_success
    [[ $(h5_get m.h5 /settings/lr) == 0.0123 ]]
    [[ $(h5_get m.h5 /settings/batch) == 16 ]]
    [[ $(h5_get m.h5 /settings/momentum) == 0.7 ]]
    # no options: the checkpoint's settings, no override lines
    run --separate-stderr ekn-train --resume m.h5 --steps 6 -o r.h5 "$D/vec.ekn"
    assert_success
    [[ $stderr != *overrides* ]] || fail "unexpected override: $stderr"
    [[ $(h5_get r.h5 /settings/lr) == 0.0123 ]]
    [[ $(h5_get r.h5 /settings/batch) == 16 ]]
    [[ $(h5_get r.h5 /settings/momentum) == 0.7 ]]
    [[ $(h5_get r.h5 /settings/weight_decay) == 0.001 ]]
    [[ $(h5_get r.h5 /settings/seed) == 5 ]]
    # one override
    run --separate-stderr ekn-train --resume m.h5 --lr 0.05 --steps 6 -o o.h5 "$D/vec.ekn"
    assert_success
    [[ $stderr == *"ekn-train: --lr 0.05 overrides the checkpoint's 0.0123"* ]] || fail "no override line: $stderr"
    [[ $(grep -c overrides <<<"$stderr") == 1 ]] || fail "expected the --lr override only: $stderr"
    [[ $(h5_get o.h5 /settings/lr) == 0.05 ]]
    [[ $(h5_get o.h5 /settings/batch) == 16 ]]
}

@test "--resume keeps the rate and momentum schedules (in the log); a given --lr replaces the checkpoint's schedule, saying so" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 16 --lr 0.03 --lr-schedule 0:0.03,6:0.02 \
        --momentum-schedule 0:0.5 --seed 5 --steps 4 --gain-every 0 -o m.h5 "$D/vec.ekn"
    assert_success
    [[ $(h5_get m.h5 /settings/lr_schedule) == 0:0.029999999999999999,6:0.02 ]]
    run --separate-stderr ekn-train --resume m.h5 --steps 8 --log a.tsv --log-every 1 -o r.h5 "$D/vec.ekn"
    assert_success
    [[ -z $stderr ]] || fail "unexpected: $stderr"
    run awk -F'\t' 'NR > 1 { printf "%s:%s:%s ", $1, $9, $10 }' a.tsv
    assert_output "5:0.03:0.5 6:0.03:0.5 7:0.02:0.5 8:0.02:0.5 "
    run --separate-stderr ekn-train --resume m.h5 --lr 0.05 --steps 8 --log b.tsv --log-every 1 -o r.h5 "$D/vec.ekn"
    assert_success
    assert_equal "$stderr" "ekn-train: --lr 0.05 overrides the checkpoint's 0.03
ekn-train: --lr 0.05 replaces the checkpoint's --lr-schedule 0:0.03,6:0.02"
    run awk -F'\t' 'NR > 1 { printf "%s:%s:%s ", $1, $9, $10 }' b.tsv
    assert_output "5:0.05:0.5 6:0.05:0.5 7:0.05:0.5 8:0.05:0.5 "
    [[ $(h5_get r.h5 /settings/lr_schedule) == "" ]]
}

@test "--resume: a setting out of its option's range in /settings is one error naming the file and the dataset" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 16 --steps 2 -o m.h5 "$D/vec.ekn"
    assert_success
    for edit in "batch=np.int64(0)" "momentum=np.float64(1.0)" "lr_schedule=np.bytes_(b'0:0.1,5:-1')" \
        "class_weights=np.bytes_(b'1,-2')"; do
        cp m.h5 bad.h5
        ekn_py -c "import h5py, numpy as np; f = h5py.File('bad.h5', 'r+'); k, v = \"$edit\".split('=', 1)
del f['settings/' + k]; f['settings/' + k] = eval(v)"
        run --separate-stderr ekn-train --resume bad.h5 --steps 4 -o out.h5 "$D/vec.ekn"
        refute_crash
        assert_failure 1
        echo "$stderr"
        assert_one_line_error ekn-train
        [[ $stderr == *"'bad.h5'"*"/settings/${edit%%=*}"* ]] || fail "$edit: $stderr"
        [[ ! -e out.h5 ]]
    done
}
