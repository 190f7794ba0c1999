#!/usr/bin/env bats
# ekn-plot: pictures of real training logs (tiny runs made here), streams,
# checkpoints and --eval reports.  Pictures are checked for their format,
# their size (the PNG's IHDR) and for being more than blank (distinct colours,
# decoded by tests/png_info.py); scripts (--script) for the series each
# column gives; broken inputs for one clear error and no picture left behind.
load helper

# png_info FILE: "WIDTH HEIGHT COLOURS GREY" (GREY 1: every pixel r = g = b)
png_info() { ekn_py "$BATS_TEST_DIRNAME/png_info.py" "$1"; }

setup_file() {
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (Debian: gnuplot-nox)"
    local D=$BATS_FILE_TMPDIR
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$D"
    cd "$D"
    # two runs that differ in the rate: the larger one raises the loss more often
    ekn-train --spec "$NETS/tiny-img-scalar.spec" --batch 16 --momentum 0.9 --seed 7 --steps 200 \
        --lr 0.05 --log-every 5 --gain-every 2 --val img-test.ekn --val-every 50 \
        --log run1.tsv -o img.h5 img.ekn 2>/dev/null
    ekn-train --spec "$NETS/tiny-img-scalar.spec" --batch 16 --momentum 0.9 --seed 7 --steps 200 \
        --lr 0.5 --log-every 5 --gain-every 2 --val img-test.ekn --val-every 50 \
        --log run2.tsv -o img2.h5 img.ekn 2>/dev/null
    ekn-predict -m img.h5 --eval img-test.ekn >eval.txt
    ekn-train --spec "$NETS/tiny-img-img.spec" --batch 8 --lr 0.05 --steps 60 -o seg.h5 seg.ekn 2>/dev/null
    ekn-predict -m seg.h5 -o segpred.ekn seg-test.ekn
    ekn-train --spec "$NETS/tiny-mlp.spec" --batch 16 --lr 0.05 --steps 20 -o mlp.h5 vec.ekn 2>/dev/null
}

setup() {
    ekn_test_dir
}

# A failed run: exit $1, nothing on stdout, one line naming ekn-plot (a
# usage error adds the --help hint), no picture $2 and no temp file beside it.
assert_failed_cleanly() {
    refute_crash
    assert_equal "$status" "$1"
    assert_no_stdout
    if (($1 == 2)); then
        assert_equal "${#stderr_lines[@]}" 2
        [[ ${stderr_lines[0]} == "ekn-plot: "* ]] || fail "stderr: $stderr"
        assert_equal "${stderr_lines[1]}" "Try 'ekn-plot --help' for more information."
    else
        assert_one_line_error ekn-plot
    fi
    [[ ! -e $2 ]] || fail "a picture '$2' was left behind"
    local tmp=("$2".tmp.*)
    [[ ! -e ${tmp[0]} ]] || fail "temp file left behind: ${tmp[*]}"
}

# The (x, y) rows of data block $2 in script file $1.
block() { awk -v b="\$$2 << EOD" '$0 == b { on = 1; next } on && $0 == "EOD" { exit } on' "$1"; }

# ---- formats, sizes, not blank ----------------------------------------------

# cg_log LOG: the log with made-up conjugate-gradient figures in its
# step_size, beta and evals columns (an sgd run leaves them nan).
cg_log() {
    awk -F'\t' 'BEGIN { OFS = "\t" } NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next }
                { $c["step_size"] = NR * 0.01; $c["beta"] = (NR % 7) / 7; $c["evals"] = 3; print }' "$1"
}

@test "log: a PNG of the requested size with more than a few colours" {
    run --separate-stderr ekn-plot log -s 480,320 -o run.png "$D/run1.tsv"
    refute_crash
    assert_success
    assert_no_stdout
    run png_info run.png
    assert_success
    read -r w h colours grey <<<"$output"
    assert_equal "$w $h" "480 320"
    ((colours > 20)) || fail "only $colours colours: blank picture?"
    assert_equal "$grey" 0 # the curves are in colour
    [[ ! -e run.png.tmp.* ]] || fail "temp file left behind"
}

@test "log: SVG and PDF from the extension, or from --format" {
    run --separate-stderr ekn-plot log -w loss -s 500,400 -o run.svg "$D/run1.tsv"
    assert_success
    head -c 200 run.svg | grep -q '<svg' || fail "no <svg> element at the start"
    grep -q 'width="500"' run.svg || fail "the SVG is not 500 wide"
    (($(grep -c '<path' run.svg) > 5)) || fail "the SVG has almost nothing drawn"
    run --separate-stderr ekn-plot log -w loss -o run.pdf "$D/run1.tsv"
    assert_success
    assert_equal "$(head -c 5 run.pdf)" "%PDF-"
    (($(stat -c %s run.pdf) > 5000)) || fail "PDF of $(stat -c %s run.pdf) bytes"
    run --separate-stderr ekn-plot log -w loss -f svg -o picture "$D/run1.tsv"
    assert_success
    head -c 200 picture | grep -q '<svg' || fail "--format svg did not give an SVG"
}

@test "log: --terminal draws text of the requested size on stdout" {
    run --separate-stderr ekn-plot log -t -w gain -s 90,25 "$D/run1.tsv"
    assert_success
    assert_equal "$(ekn-plot log -t -w gain -s 90,25 "$D/run1.tsv" | wc -l)" 25
    [[ $output == *"updates increased the loss"* ]] || fail "no gain share in the title"
    local l
    for l in "${lines[@]}"; do
        l=${l#$'\f'} # gnuplot starts each text page with a form feed
        ((${#l} <= 90)) || fail "a line of ${#l} characters"
    done
}

@test "--output with an unknown extension and no --format is a usage error" {
    run --separate-stderr ekn-plot log -o run.jpg "$D/run1.tsv"
    assert_failed_cleanly 2 run.jpg
}

# ---- the scripts: series per column ------------------------------------------

@test "log --script: loss, smoothed and validation series hold the log's finite values" {
    run --separate-stderr ekn-plot log --script -w loss "$D/run1.tsv"
    assert_success
    printf '%s\n' "$output" >s.gp
    grep -q "^plot " s.gp || fail "no plot command"
    for t in 'loss per step' smoothed validation; do
        grep -q "title '$t'" s.gp || fail "no '$t' series"
    done
    # the validation block is exactly the log's rows with a val_loss, by header name
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                $c["val_loss"] != "nan" { print $c["step"] + 0, $c["val_loss"] + 0 }' "$D/run1.tsv" >want
    block s.gp d2 | awk '{ print $1 + 0, $2 + 0 }' >got
    (($(wc -l <want) == 4)) || fail "expected 4 validation rows in the log"
    diff want got || fail "validation series differs from the log"
}

@test "log --script: the gain title gives the share of updates that raised the loss" {
    run --separate-stderr ekn-plot log --script -w gain "$D/run2.tsv"
    assert_success
    share=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "gain") g = i; next }
                        $g != "nan" { n++; up += $g > 0 } END { printf "%.1f%% of %d", 100 * up / n, n }' "$D/run2.tsv")
    [[ $output == *"gain: $share updates increased the loss"* ]] || fail "expected '$share' in the title"
    [[ $output == *"title 'zero'"* ]] || fail "no zero line"
    [[ $output == *"axes x1y2"*"title 'learning rate (y2)'"* ]] || fail "no rate on y2"
    [[ $output == *"title 'momentum (y2)'"* ]] || fail "no momentum"
}

@test "log: columns are chosen by header name, not position; extra columns are ignored" {
    # reverse the columns and add one at the front
    awk -F'\t' 'BEGIN { OFS = "\t" } { s = (NR == 1 ? "extra" : NR); for (i = NF; i >= 1; i--) s = s OFS $i; print s }' \
        "$D/run1.tsv" >shuffled.tsv
    ekn-plot log --script "$D/run1.tsv" | grep -v '^# \|title' >a.gp
    ekn-plot log --script shuffled.tsv | grep -v '^# \|title' >b.gp
    diff a.gp b.gp || fail "the script depends on the column order"
}

@test "log: several logs on one picture, each series named after its log" {
    run --separate-stderr ekn-plot log --script -w loss "$D/run1.tsv" "$D/run2.tsv"
    assert_success
    [[ $output == *"title 'run1: smoothed'"* && $output == *"title 'run2: smoothed'"* ]] || fail "series not named by log"
    run --separate-stderr ekn-plot log -w gain -s 400,300 -o cmp.png "$D/run1.tsv" "$D/run2.tsv"
    assert_success
    run png_info cmp.png
    read -r w h colours grey <<<"$output"
    ((colours > 20)) || fail "only $colours colours"
}

@test "log --what all: every picture the log has data for, and not cg" {
    run --separate-stderr ekn-plot log --script "$D/run1.tsv"
    assert_success
    [[ $output == *"set multiplot layout 3,2"* ]] || fail "expected five pictures in a 3x2 layout"
    assert_equal "$(grep -c '^plot ' <<<"$output")" 5
    [[ $output != *conjugate* ]] || fail "a cg picture without step_size and beta"
}

@test "log: cg draws step_size against beta from columns at the end" {
    cg_log "$D/run1.tsv" >cg.tsv
    run --separate-stderr ekn-plot log --script -w cg cg.tsv
    assert_success
    printf '%s\n' "$output" >s.gp
    assert_equal "$(block s.gp d0 | wc -l)" "$(($(wc -l <cg.tsv) - 1))"
    run --separate-stderr ekn-plot log -s 400,300 -w cg -o cg.png cg.tsv
    assert_success
    run --separate-stderr ekn-plot log --script cg.tsv
    [[ $output == *conjugate* ]] || fail "--what all leaves out the cg picture"
}

# ---- awkward logs -----------------------------------------------------------

@test "log: a missing column the picture needs is one clear error naming it" {
    cut -f1-7 "$D/run1.tsv" >nogain.tsv
    run --separate-stderr ekn-plot log -w gain -o x.png nogain.tsv
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"nogain.tsv': no column 'gain'"* ]] || fail "message: $stderr"
    run --separate-stderr ekn-plot log -x time -w loss -o x.png <(cut -f1,2,5 "$D/run1.tsv")
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"no column 'time'"* ]] || fail "message: $stderr"
    # but --what all draws what the columns allow
    run --separate-stderr ekn-plot log -s 300,200 -o ok.png nogain.tsv
    assert_success
}

@test "log: a column of NaN only gives a 'no data' frame, not an error" {
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 { $5 = "nan"; $6 = "nan" } 1' "$D/run1.tsv" >nan.tsv
    run --separate-stderr ekn-plot log --script -w loss nan.tsv
    assert_success
    [[ $output == *"title 'validation'"* ]] || fail "validation rows lost"
    [[ $output != *"title 'loss per step'"* ]] || fail "a series for a NaN column"
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 { for (i = 2; i <= NF; i++) $i = "nan" } 1' "$D/run1.tsv" >allnan.tsv
    run --separate-stderr ekn-plot log --script -w loss allnan.tsv
    [[ $output == *"'no data'"* ]] || fail "no 'no data' label"
    run --separate-stderr ekn-plot log -s 300,200 -w loss -o nan.png allnan.tsv
    assert_success
    run png_info nan.png
    read -r w h colours grey <<<"$output"
    ((colours > 2)) || fail "blank picture"
}

@test "log: one row, a header only, and no validation rows all draw" {
    head -2 "$D/run1.tsv" >one.tsv
    head -1 "$D/run1.tsv" >header.tsv
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 { $13 = "nan"; $14 = "nan" } 1' "$D/run1.tsv" >noval.tsv
    for f in one header noval; do
        run --separate-stderr ekn-plot log -s 400,300 -o $f.png $f.tsv
        refute_crash
        assert_success
        [[ -s $f.png ]] || fail "no $f.png"
    done
    run --separate-stderr ekn-plot log --script -w loss noval.tsv
    [[ $output != *"title 'validation'"* ]] || fail "a validation series without validation rows"
}

@test "log: an empty file, a row of the wrong width, a missing file: one clear error" {
    : >empty.tsv
    run --separate-stderr ekn-plot log -o x.png empty.tsv
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"empty.tsv': empty log"* ]] || fail "message: $stderr"
    { cat "$D/run1.tsv"; printf '1\t2\t3\n'; printf '4\t5\t6\n'; } >bad.tsv
    run --separate-stderr ekn-plot log -o x.png bad.tsv
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"bad.tsv':$(($(wc -l <"$D/run1.tsv") + 1)): 3 fields, the header has $(head -1 "$D/run1.tsv" | awk -F'\t' '{ print NF }')"* ]] ||
        fail "message: $stderr"
    run --separate-stderr ekn-plot log -o x.png no-such.tsv
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"'no-such.tsv': cannot open"* ]] || fail "message: $stderr"
}

# ---- gnuplot ----------------------------------------------------------------

@test "a missing gnuplot is a clear error naming the package" {
    EKN_GNUPLOT=/nonexistent/gnuplot run --separate-stderr ekn-plot log -o x.png "$D/run1.tsv"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"not found"*"gnuplot-nox"* ]] || fail "message: $stderr"
    run --separate-stderr env PATH="$EKN_BIN" "$EKN_BIN/ekn-plot" log -o x.png "$D/run1.tsv"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"'gnuplot' not found"* ]] || fail "message: $stderr"
}

@test "a gnuplot that fails or writes nothing leaves no picture" {
    EKN_GNUPLOT=false run --separate-stderr ekn-plot log -o x.png "$D/run1.tsv"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"'false' failed (exit 1)"* ]] || fail "message: $stderr"
    EKN_GNUPLOT=true run --separate-stderr ekn-plot log -o x.png "$D/run1.tsv"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"gnuplot wrote no picture"* ]] || fail "message: $stderr"
}

@test "an output in a directory that does not exist: an error, no crash" {
    run --separate-stderr ekn-plot log -o no/such/dir/x.png "$D/run1.tsv"
    assert_failed_cleanly 1 no/such/dir/x.png
}

@test "--script to a full disk is an error" {
    run --separate-stderr bash -c 'ekn-plot log --script "$1" >/dev/full' _ "$D/run1.tsv"
    refute_crash
    assert_equal "$status" 1
    assert_one_line_error ekn-plot
}

@test "--follow redraws as the log grows and stops cleanly on SIGTERM" {
    head -20 "$D/run1.tsv" >live.tsv
    # the binary itself, not through $EKN_TEST_WRAPPER: the signal must reach it
    "$EKN_BIN/ekn-plot" log -F --interval 0.2 -w loss -s 300,200 -o live.png live.tsv 2>follow.err &
    FOLLOW_PID=$!
    local n=0
    while [[ ! -s live.png ]] && ((n++ < 100)); do sleep 0.1; done
    [[ -s live.png ]] || fail "no first picture"
    local first
    first=$(md5sum <live.png)
    tail -n +21 "$D/run1.tsv" >>live.tsv
    n=0
    while [[ $(md5sum <live.png) == "$first" ]] && ((n++ < 100)); do sleep 0.1; done
    [[ $(md5sum <live.png) != "$first" ]] || fail "the picture was not redrawn"
    kill -TERM "$FOLLOW_PID"
    local st=0
    wait "$FOLLOW_PID" || st=$?
    FOLLOW_PID=
    assert_equal "$st" 143
    local tmp=(live.png.tmp.*)
    [[ ! -e ${tmp[0]} ]] || fail "temp file left behind: ${tmp[*]}"
    run png_info live.png
    assert_success
    read -r w h colours grey <<<"$output"
    assert_equal "$w $h" "300 200"
}

# a --follow left running by a failed test must not keep bats waiting
teardown() {
    if [[ -n ${FOLLOW_PID:-} ]]; then
        kill "$FOLLOW_PID" 2>/dev/null || true
    fi
}

# ---- tensor pictures --------------------------------------------------------

@test "image: a grid of volume slices is grey, with the requested size" {
    run --separate-stderr ekn-plot image -g 16 -s 400,420 -o grid.png "$D/img.ekn"
    assert_success
    run png_info grid.png
    read -r w h colours grey <<<"$output"
    assert_equal "$w $h" "400 420"
    ((colours > 20)) || fail "only $colours colours"
    assert_equal "$grey" 1
    # 16 examples of 8x8 (z slice of 4x8x8): a 4x4 grid, one pixel apart
    run --separate-stderr ekn-plot image -g 16 --script "$D/img.ekn"
    printf '%s\n' "$output" >s.gp
    assert_equal "$(block s.gp raster | wc -l)" 35
    assert_equal "$(block s.gp raster | head -1 | wc -w)" 35
    [[ $output == *"examples 0-15, z = 2"* ]] || fail "title does not say what is drawn"
}

@test "image: a slice holds the stream's values, cut across the chosen axis" {
    # one 3x4x5 volume of sequential values (element i holds i)
    ekn_write_stream vol.ekn image f32 1 1 3 4 5
    run --separate-stderr ekn-plot image --axis y --index 1 --script vol.ekn
    assert_success
    printf '%s\n' "$output" >s.gp
    # the z-x slice at y = 1 holds 20 z + 5 + x: 3 rows of 5, black at (0, 0),
    # white at (2, 4), grey rising along x and down z
    assert_equal "$(block s.gp raster | wc -l)" 3
    block s.gp raster | awk '{ for (i = 1; i <= NF; i++) { if ($i % 65793) exit 1; v = $i / 65793
            if (i > 1 && v <= prev) exit 1; if (NR > 1 && v <= above[i]) exit 1; above[i] = v; prev = v } }' ||
        fail "not grey levels rising along x and z"
    assert_equal "$(block s.gp raster | head -1 | cut -d' ' -f1)" 0
    assert_equal "$(block s.gp raster | tail -1 | awk '{ print $NF }')" 16777215
    [[ $output == *'using 1:($2*1):'* ]] || fail "square pixels expected without spacing"
    # anisotropic spacing (z 4 times y and x): pixels of a z-x slice are 4 times as high as wide
    ekn_write_stream aniso.ekn image f32 1 1 3 4 5 --meta spacing=4,1,1
    run --separate-stderr ekn-plot image --axis y --script aniso.ekn
    [[ $output == *'using 1:($2*4):'* && $output == *"set yrange [10:-2]"* ]] || fail "spacing not honoured"
    run --separate-stderr ekn-plot image --script aniso.ekn
    [[ $output == *'using 1:($2*1):'* ]] || fail "a z slice has square pixels"
    run --separate-stderr ekn-plot image --axis y --index 4 --script vol.ekn
    assert_failed_cleanly 1 none
    [[ $stderr == *"--index 4 out of range: y has 4 slices"* ]] || fail "message: $stderr"
}

@test "image: the picture ekn-plot draws (pixels as inline bytes) is the one its --script draws (a text datablock)" {
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (Debian: gnuplot-nox)"
    # a grid with overlays, and an anisotropic z-x slice (pixels 4 times as high as wide)
    ekn_write_stream aniso.ekn image f32 2 1 3 4 5 --meta spacing=4,1,1 --data random
    ekn_write_stream aniso.ekn label i32 2 3 4 5 --classes 3 --data random --append
    local args
    for args in "-g 2 --overlay aniso.ekn" "--axis y"; do
        # shellcheck disable=SC2086
        ekn-plot image $args -s 300,200 -o direct.png aniso.ekn
        # shellcheck disable=SC2086
        ekn-plot image $args -s 300,200 -o scripted.png --script aniso.ekn >s.gp
        gnuplot s.gp
        cmp direct.png scripted.png || fail "ekn-plot image $args: the two pictures differ"
    done
}

@test "image: output records (an autoencoder's reconstructions) are drawn like images, in stream order" {
    # one 4x5 image of sequential values, then an output record of the same values
    ekn_write_stream in.ekn image f32 1 1 4 5
    ekn_write_stream out.ekn output f32 1 1 4 5
    cat in.ekn out.ekn >both.ekn
    run --separate-stderr ekn-plot image -g 2 --script both.ekn
    assert_success
    printf '%s\n' "$output" >s.gp
    # a 1x2 grid: 4 rows of 5 + gap + 5, the output's cell the same as the image's
    assert_equal "$(block s.gp raster | wc -l)" 4
    assert_equal "$(block s.gp raster | head -1 | wc -w)" 11
    block s.gp raster | awk '{ for (i = 1; i <= 5; i++) if ($i != $(i + 6)) exit 1 }' ||
        fail "the output's cell differs from the image's"
    run --separate-stderr ekn-plot image --script out.ekn
    assert_success
}

@test "image --overlay: labels in colour on the image, predictions where their offset puts them" {
    run --separate-stderr ekn-plot image -g 4 -s 300,300 --overlay "$D/seg.ekn" -o lab.png "$D/seg.ekn"
    assert_success
    run png_info lab.png
    read -r w h colours grey <<<"$output"
    assert_equal "$grey" 0
    # predictions of the tiny img-img net: offset 3, stride 2, 9x9 outputs of 24x24
    # inputs, so every coloured pixel lies in rows and columns 3..20
    run --separate-stderr ekn-plot image --alpha 1 --overlay "$D/segpred.ekn" --script "$D/seg-test.ekn"
    assert_success
    printf '%s\n' "$output" >s.gp
    block s.gp raster | awk '{ for (x = 1; x <= NF; x++) if ($x % 65793) {
            n++; if (NR - 1 < 3 || NR - 1 > 20 || x - 1 < 3 || x - 1 > 20) out++ } }
        END { print n + 0, out + 0 }' >counts
    read -r coloured outside <counts
    ((coloured > 0)) || fail "no coloured pixel"
    assert_equal "$outside" 0
}

@test "image: streams without images, bad channels and truncated streams are clear errors" {
    run --separate-stderr ekn-plot image -o x.png "$D/vec.ekn"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"no image records"* ]] || fail "message: $stderr"
    run --separate-stderr ekn-plot image -c 3 -o x.png "$D/img.ekn"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"channel 3 out of range"* ]] || fail "message: $stderr"
    run --separate-stderr ekn-plot image --first 100000 -o x.png "$D/img.ekn"
    assert_failed_cleanly 1 x.png
    run --separate-stderr ekn-plot image -g 4 -o x.png "$D/trunc.ekn"
    assert_failed_cleanly 1 x.png
    run --separate-stderr ekn-plot image -o x.png "$D/img.ekn" "$D/img.ekn"
    assert_failed_cleanly 2 x.png
}

@test "filters: the first conv layer's filters as a grid" {
    run --separate-stderr ekn-plot filters -s 300,300 -o f.png "$D/img.h5"
    assert_success
    run png_info f.png
    read -r w h colours grey <<<"$output"
    assert_equal "$w $h" "300 300"
    ((colours > 4)) || fail "only $colours colours"
    run --separate-stderr ekn-plot filters --script "$D/img.h5"
    printf '%s\n' "$output" >s.gp
    # conv1 of the tiny spec has 4 filters of 3x3x3: 2x2 grid of 3x3 with gaps
    assert_equal "$(block s.gp raster | wc -l)" 7
    [[ $output == *"conv1, 4 filters of 3x3"* ]] || fail "title: $(grep 'set title' s.gp)"
}

@test "filters: a dense first layer over 16 features is drawn as 4x4 pictures" {
    printf '[input]\nmode = vect-scalar\nshape = 16\n[dense]\nunits = 3\n[dense]\nunits = 2\nact = softmax\n' >sq.spec
    ekn_random_stream sq.ekn vector f32 32 16
    ekn_write_stream sq.ekn label i32 32 --data random --classes 2 --append
    ekn-train --spec sq.spec --steps 2 --batch 8 -o sq.h5 sq.ekn 2>/dev/null
    run --separate-stderr ekn-plot filters --script sq.h5
    assert_success
    printf '%s\n' "$output" >s.gp
    # 3 units: a 2x2 grid of 4x4 pictures one pixel apart
    assert_equal "$(block s.gp raster | wc -l)" 9
    assert_equal "$(block s.gp raster | head -1 | wc -w)" 9
    [[ $output == *"dense1, 3 units of 4x4"* ]] || fail "title: $(grep 'set title' s.gp)"
    run --separate-stderr ekn-plot filters -c 1 --script sq.h5
    assert_failed_cleanly 1 none
    [[ $stderr == *"channel 1 out of range"* ]] || fail "message: $stderr"
}

@test "filters: bad layers, dense inputs that are no picture, non-checkpoints" {
    run --separate-stderr ekn-plot filters --layer nope -o x.png "$D/img.h5"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"no layer 'nope'"* ]] || fail "message: $stderr"
    run --separate-stderr ekn-plot filters -o x.png "$D/mlp.h5"
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"10 inputs, which are not a picture"* ]] || fail "message: $stderr"
    run --separate-stderr ekn-plot filters -o x.png "$D/run1.tsv"
    assert_failed_cleanly 1 x.png
}

@test "confusion: a heat map of an --eval report with its counts and accuracy" {
    run --separate-stderr ekn-plot confusion -s 400,400 -o c.png "$D/eval.txt"
    assert_success
    run png_info c.png
    read -r w h colours grey <<<"$output"
    assert_equal "$w $h" "400 400"
    ((colours > 10)) || fail "only $colours colours"
    run --separate-stderr ekn-plot confusion --script "$D/eval.txt"
    printf '%s\n' "$output" >s.gp
    # every count of the report is in the picture's labels block
    awk '/^confusion/ { on = 1; next } on && /^[0-9]/ { for (j = 2; j <= NF; j++) print NR - 1, j - 2, $j; next } on { exit }' \
        "$D/eval.txt" | awk '{ print $3 }' | sort -n >want
    block s.gp counts | awk '{ print $3 }' | sort -n >got
    diff want got || fail "counts differ"
    acc=$(awk -F'\t' '$1 == "accuracy" { print $2 }' "$D/eval.txt")
    grep -q "accuracy $acc" s.gp || fail "no accuracy $acc in the title"
}

@test "confusion: a report without a matrix is a clear error" {
    printf 'mse\t0.5\nexamples\t10\n' >reg.txt
    run --separate-stderr ekn-plot confusion -o x.png reg.txt
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"no confusion matrix"* ]] || fail "message: $stderr"
}

# ---- usage ------------------------------------------------------------------

@test "usage errors: no picture, an unknown one, no input, --follow for a tensor, no output" {
    local args
    for args in "" "graph x.tsv" "log" "image -F x.ekn" "log x.tsv" "log -t -o a.png x.tsv"; do
        # shellcheck disable=SC2086
        run --separate-stderr ekn-plot $args
        refute_crash
        assert_equal "$status" 2
        assert_no_stdout
        [[ $stderr == "ekn-plot: "*"Try 'ekn-plot --help'"* ]] || fail "'$args': $stderr"
    done
}

# ---- completion -------------------------------------------------------------

@test "completion: the picture first, then files; option values after short and long options" {
    # shellcheck source=../completions/ekn.bash
    source "$EKN_SRC/completions/ekn.bash"
    touch run.tsv
    complete_words ekn-plot ""
    assert_equal "${COMPREPLY[*]}" "log image filters confusion"
    complete_words ekn-plot -t c
    assert_equal "${COMPREPLY[*]}" "confusion"
    complete_words ekn-plot log r
    assert_equal "${COMPREPLY[*]}" "run.tsv"
    complete_words ekn-plot log -w g
    assert_equal "${COMPREPLY[*]}" "gain"
    complete_words ekn-plot --what l
    assert_equal "${COMPREPLY[*]}" "loss lr label"
    complete_words ekn-plot -o r
    assert_equal "${COMPREPLY[*]}" "run.tsv"
    complete_words ekn-plot log --fo
    assert_equal "${COMPREPLY[*]}" "--format= --follow"
}

@test "log --what all: a cg run beside an sgd run draws cg from the log that has it" {
    cg_log "$D/run1.tsv" >cg.tsv
    cut -f1-6,9-10 "$D/run2.tsv" >sgd.tsv # no gain, mean_label or error columns
    run --separate-stderr ekn-plot log --script cg.tsv sgd.tsv
    assert_success
    [[ $output == *"title 'cg: step'"* ]] || fail "no cg series"
    [[ $output == *"sgd no gain measured"* ]] || fail "the gain title does not mention the log without gains"
    [[ $output != *"title 'sgd: gain'"* ]] || fail "a gain series from a log without gains"
    run --separate-stderr ekn-plot log -s 500,400 -o both.png cg.tsv sgd.tsv
    assert_success
    run --separate-stderr ekn-plot log -w gain -o x.png cg.tsv sgd.tsv
    assert_failed_cleanly 1 x.png
    [[ $stderr == *"sgd.tsv': no column 'gain'"* ]] || fail "message: $stderr"
}
