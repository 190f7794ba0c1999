#!/usr/bin/env bats
# ekn-train's rate shapes (--lr-shape, --warmup, --lr-floor, --onecycle-*):
# the log's lr and momentum columns follow the closed forms of
# ekn-train(1) LEARNING-RATE SHAPES, a resumed run continues bit-identically,
# the settings outlast --resume, contradictions are usage errors, and
# ekn-plot log draws the rate and the momentum.
load helper
load synth

TRAIN_OPTS=(--spec "$NETS/tiny-img-scalar.spec" --batch 16 --lr 0.05 --seed 7 --gain-every 0)

# follows LOG KIND LR FLOOR T [WARMUP | PCT DIV TOP LOW]: every row's lr (and
# momentum) is the closed form at the step it used (row step - 1), to the
# log's 6 digits
follows() {
    ekn_py - "$@" <<'EOF2'
import csv, math, sys
log, kind, lr, floor, T = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rest = [float(x) for x in sys.argv[6:]]
def a(u, v, q): return v + (u - v) * (1 + math.cos(math.pi * q)) / 2
rows = list(csv.DictReader(open(log), delimiter='\t'))
assert len(rows) == T, f'{len(rows)} rows'
bad = 0
for r in rows:
    s = int(r['step']) - 1
    mom = None
    if kind == 'cosine':
        n = rest[0]
        want = (floor + (lr - floor) * (1 + math.cos(math.pi * min(s / T, 1))) / 2) * (min(1, (s + 1) / n) if n else 1)
    else:
        pct, div, top, low = rest
        e1, e2 = pct * T - 1, T - 1
        if s <= e1:
            q = s / e1 if e1 > 0 else 1
            want, mom = a(lr / div, lr, q), a(top, low, q)
        else:
            q = min(1, (s - e1) / (e2 - e1))
            want, mom = a(lr, floor, q), a(low, top, q)
    got = float(r['lr'])
    if abs(got - want) > 1e-5 * abs(want) + 1e-12:
        print(f'step {s}: lr {got}, want {want}'); bad += 1
    if mom is not None and abs(float(r['momentum']) - mom) > 1e-5 * mom:
        print(f'step {s}: momentum {r["momentum"]}, want {mom}'); bad += 1
print(f'{len(rows)} rows, {bad} off')
sys.exit(1 if bad else 0)
EOF2
}

@test "--lr-shape cosine --warmup: the log's lr is the warmed-up cosine to --lr-floor over --steps" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 30 --lr-shape cosine --lr-floor 0.001 --warmup 5 \
        --log run.tsv --log-every 1 -o m.h5 "$D/img.ekn"
    assert_success
    run follows run.tsv cosine 0.05 0.001 30 5
    echo "$output"
    assert_success
    # the warm-up's first step, its last, and the momentum unchanged
    assert_equal "$(awk -F'\t' 'NR == 2 { print $9, $10 }' run.tsv)" "0.01 0.9"
    run awk -F'\t' 'NR == 6 { print $9 }' run.tsv
    [[ $output == 0.04* ]] || fail "step 4 is $output"
}

@test "--lr-shape cosine over --epochs: the budget is the epochs in steps (256 examples, batch 16: 16 a pass)" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --epochs 2 --lr-shape cosine --log run.tsv --log-every 1 \
        -o m.h5 "$D/img.ekn"
    assert_success
    run follows run.tsv cosine 0.05 0 32 0
    echo "$output"
    assert_success
}

@test "--lr-shape onecycle: the rate rises and anneals while the momentum goes down and back (OneCycleLR)" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 20 --lr-shape onecycle --momentum 0.95 \
        --onecycle-momentum 0.85 --onecycle-pct 0.25 --onecycle-div 10 --lr-floor 1e-4 --log run.tsv --log-every 1 \
        -o m.h5 "$D/img.ekn"
    assert_success
    run follows run.tsv onecycle 0.05 1e-4 20 0.25 10 0.95 0.85
    echo "$output"
    assert_success
    # the first step, the peak (step 4 = 0.25 * 20 - 1) and the last step
    assert_equal "$(awk -F'\t' 'NR == 2 || NR == 6 || NR == 21 { printf "%s %s;", $9, $10 }' run.tsv)" \
        "0.005 0.95;0.05 0.85;0.0001 0.95;"
}

@test "--lr-shape cosine --time: a function of the run's time, at the floor by the end" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --time 1 --lr-shape cosine --lr-floor 0.002 \
        --log run.tsv --log-every 1 -o m.h5 "$D/img.ekn"
    assert_success
    # falling from the rate (the first step at time 0) towards the floor, never below it
    run awk -F'\t' 'NR == 2 { first = $9 } NR > 1 { if ($9 > prev && NR > 2) up++; if ($9 < 0.002) low++; prev = $9 }
                    END { print first, up + 0, low + 0, prev < 0.01 }' run.tsv
    assert_output "0.05 0 0 1"
}

# resumes SHAPE-OPTIONS...: 40 steps against the step-25 checkpoint (the only
# validation's, FILE-best.h5) resumed with no option but the files
resumes() {
    local o=("${TRAIN_OPTS[@]}" --steps 40 --val "$D/img-test.ekn" --val-every 25 "$@")
    run --separate-stderr ekn-train "${o[@]}" --log A.tsv --log-every 1 -o A.h5 "$D/img.ekn"
    assert_success
    run ekn_py -c "import h5py; print(int(h5py.File('A-best.h5')['state/step'][()]))"
    assert_output 25
    run --separate-stderr ekn-train -v --resume A-best.h5 --val "$D/img-test.ekn" --log R.tsv --log-every 1 -o R.h5 \
        "$D/img.ekn"
    assert_success
    echo "$stderr" | grep -q -- "--lr-shape" || fail "the shape was not restored: $stderr"
    run h5_same A.h5 R.h5
    echo "$output"
    assert_success
    # the resumed rows are the uninterrupted run's, rate and momentum included
    diff <(awk -F'\t' 'NR > 26 { print $1, $9, $10 }' A.tsv) <(awk -F'\t' 'NR > 1 { print $1, $9, $10 }' R.tsv)
}

@test "--resume: a one-cycle run continues bit-identically, its shape and momentum cycle restored" {
    resumes --lr-shape onecycle --momentum 0.95 --onecycle-pct 0.4
}

@test "--resume: a cosine run with warm-up continues bit-identically" {
    resumes --lr-shape cosine --warmup 30 --lr-floor 0.005
}

@test "--resume: a given --lr-shape overrides the checkpoint's and says so; an older checkpoint gets the defaults" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 10 --lr-shape onecycle -o m.h5 "$D/img.ekn"
    assert_success
    run --separate-stderr ekn-train --resume m.h5 --steps 20 --lr-shape cosine -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"--lr-shape cosine overrides the checkpoint's onecycle"* ]] || fail "$stderr"
    run ekn_py -c "import h5py; print(h5py.File('m.h5')['settings/lr_shape'][()].decode())"
    assert_output cosine
    # a checkpoint from before the shapes: a constant rate
    ekn_py -c "
import h5py
f = h5py.File('m.h5', 'a')
for k in ('lr_shape', 'warmup', 'lr_floor', 'onecycle_pct', 'onecycle_div', 'onecycle_momentum'):
    del f['settings/' + k]"
    run --separate-stderr ekn-train --resume m.h5 --steps 25 --log r.tsv --log-every 1 -o m.h5 "$D/img.ekn"
    assert_success
    assert_equal "$(awk -F'\t' 'NR > 1 { print $9 }' r.tsv | sort -u)" "0.05"
}

@test "bad --lr-shape settings: one-line usage errors (exit 2), nothing trained" {
    bad() {
        run -2 --separate-stderr ekn-train "${TRAIN_OPTS[@]}" "$@" -o m.h5 "$D/img.ekn"
        assert_no_stdout
        [[ ${stderr_lines[0]} == "ekn-train: "*"$want"* ]] || fail "for $*: $stderr"
        [[ ! -e m.h5 ]] || fail "trained for $*"
    }
    want="needs a budget: --steps, --epochs or --time" bad --lr-shape cosine
    want="--lr-shape onecycle and --lr-schedule both" bad --lr-shape onecycle --steps 9 --lr-schedule 0:0.1
    want="--lr-shape cosine and --lr-decay both" bad --lr-shape cosine --steps 9 --lr-decay 0.5 --lr-decay-every 3
    want="--warmup contradicts it" bad --lr-shape onecycle --steps 9 --warmup 3
    want="--momentum-schedule" bad --lr-shape onecycle --steps 9 --momentum-schedule 0:0.5
    want="--lr-floor must not be above --lr (0.05), you specified 0.1" bad --lr-shape cosine --steps 9 --lr-floor 0.1
    want="--onecycle-momentum must not be above --momentum (0.9" bad --lr-shape onecycle --steps 9 \
        --onecycle-momentum 0.95
    want="--onecycle-pct must be above 0 and below 1, you specified 1" bad --lr-shape onecycle --steps 9 \
        --onecycle-pct 1
    want="--warmup must be an integer from 0" bad --warmup -1
    want="--lr-floor must be" bad --lr-floor -0.1
    want="--onecycle-div must be" bad --onecycle-div 0.5
    want="--lr-shape must be one of constant|cosine|onecycle, you specified 'linear'" bad --lr-shape linear
}

@test "ekn-plot log --what lr: a one-cycle log's rate and momentum are drawn" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 20 --lr-shape onecycle --log run.tsv --log-every 1 \
        -o m.h5 "$D/img.ekn"
    assert_success
    run --separate-stderr ekn-plot log --script -w lr run.tsv
    assert_success
    [[ $output == *"learning rate and momentum"* ]] || fail "no lr panel"
    [[ $output == *"title 'learning rate'"* ]] || fail "no rate"
    [[ $output == *"axes x1y2"*"title 'momentum (y2)'"* ]] || fail "no momentum"
    # the peak rate is among the plotted points
    [[ $output == *" 0.05"* ]] || fail "no peak"
}

@test "completion: ekn-train --lr-shape offers its shapes, --warm and --onecycle- the options" {
    # shellcheck source=../completions/ekn.bash
    source "$EKN_SRC/completions/ekn.bash"
    complete_words ekn-train --lr-shape ""
    assert_equal "${COMPREPLY[*]}" "constant cosine onecycle"
    complete_words ekn-train --warm
    assert_equal "${COMPREPLY[*]}" "--warmup="
    complete_words ekn-train --onecycle-
    assert_equal "${COMPREPLY[*]}" "--onecycle-pct= --onecycle-div= --onecycle-momentum="
}
