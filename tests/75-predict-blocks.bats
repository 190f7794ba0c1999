#!/usr/bin/env bats
# ekn-predict --dense by regions: --roi and --block I/N, HDF5 output
# (-o FILE.h5:/DATASET), the done marker of a block and the skipping of
# finished blocks, and --join (a virtual dataset over the block files).
# The oracle is ekn-predict --dense on the whole volume: every region, and
# the N blocks joined, must be its bytes exactly.  Data: ISBI 2012 slices
# cut to sizes that are multiples of nothing (tests/fixtures' 2D img-img
# net, field of view 7, stride 2, slice by slice), and a 3D variant of that
# net with max fragment pooling on random volumes.
load helper

M2=$BATS_TEST_DIRNAME/fixtures/ckpt/img-img.h5

# py SCRIPT ARGS...: ekn_py_stream (helper.bash) with these helpers (h5py) in front.
PY_PRELUDE='def h5(path, ds='\''/membrane'\''):
    import h5py
    return h5py.File(path, '\''r'\'')[ds]
def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
'
py() { ekn_py_stream "$@"; }

need_h5py() {
    ekn_py -c 'import h5py' 2>/dev/null || skip "Debian's python3-h5py is not installed"
}

setup_file() {
    local d=$BATS_FILE_TMPDIR i=$SHARED/data/isbi2012
    [[ -r $i/train-volume.u8 ]] || return 0
    # 3 ISBI slices of 197x229 (and all 30 of 512x512 for the kill test), standardised roughly
    py '
v = np.fromfile(args[0] + "/train-volume.u8", np.uint8).reshape(30, 512, 512)
x = (v[5:8, 100:297, 50:279].astype(np.float32) - 128) / 64
with open(args[1] + "/isbi.ekn", "wb") as f:
    es.write(f, "image", x[None, None], meta="spacing=50,4,4\n")
with open(args[1] + "/isbi2d.ekn", "wb") as f:
    es.write(f, "image", x[None, None, 1, :101])
y = (v.astype(np.float32) - 128) / 64
with open(args[1] + "/isbi-big.ekn", "wb") as f:
    es.write(f, "image", y[None, None])
rng = np.random.default_rng(75)
with open(args[1] + "/vol3d.ekn", "wb") as f:
    img = rng.standard_normal((8, 1, 9, 9, 9)).astype(np.float32)
    es.write(f, "image", img)
    es.write(f, "label", (img[:, 0] < 0).astype(np.int32))
with open(args[1] + "/odd3d.ekn", "wb") as f:
    es.write(f, "image", rng.standard_normal((1, 1, 23, 19, 26)).astype(np.float32))
' "$i" "$d"
    sed -e 's/shape = 15,15/shape = 9,9,9/' -e 's/size = 2,2$/size = 2,2,2/' -e 's/size = 3,3$/size = 3,3,3/' \
        -e 's/size = 1,1$/size = 1,1,1/' "$NETS/tiny-img-img.spec" | sed '/^\[pool\]/a mfp = 1' >"$d/mfp3d.spec"
    grep -q 'mfp = 1' "$d/mfp3d.spec"
    ekn-train --spec "$d/mfp3d.spec" --batch 4 --lr 0.05 --seed 7 --steps 30 -o "$d/mfp3d.h5" "$d/vol3d.ekn"
}

need_isbi() {
    ekn_need_file "$SHARED/data/isbi2012/train-volume.u8"
}

setup() {
    D=$BATS_FILE_TMPDIR
    # a directory of its own: bats keeps its stderr files in BATS_TEST_TMPDIR
    mkdir -p "$BATS_TEST_TMPDIR/w"
    cd "$BATS_TEST_TMPDIR/w"
}

@test "--roi: the stream of a region is the whole prediction's crop, byte for byte, with its offset" {
    need_isbi
    local o=(-m "$M2" --dense --tile 1,21,23)
    ekn-predict "${o[@]}" --pad mirror -o whole.ekn "$D/isbi.ekn"
    ekn-predict "${o[@]}" --pad mirror --roi 1:3,20:101,7:200 -o roi.ekn "$D/isbi.ekn"
    ekn-predict "${o[@]}" -o whole-np.ekn "$D/isbi.ekn"
    ekn-predict "${o[@]}" --roi 0:1,0:1,180:223 -o roi-np.ekn "$D/isbi.ekn"
    ekn-predict -m "$D/mfp3d.h5" --dense --tile 10,10,12 --pad zero -o whole3.ekn "$D/odd3d.ekn"
    ekn-predict -m "$D/mfp3d.h5" --dense --tile 10,10,12 --pad zero --roi 3:22,0:5,9:26 -o roi3.ekn "$D/odd3d.ekn"
    run py '
def check(whole, roi, box, off):
    w, r = records(whole), records(roi)
    sl = tuple(slice(a, b) for a, b in box)
    assert same(w[0][1][(slice(None), slice(None)) + sl], r[0][1]), "prob differs"
    assert same(w[1][1][(slice(None),) + sl], r[1][1]), "class differs"
    assert r[0][2].splitlines()[0] == "offset=" + off, r[0][2]
check("whole.ekn", "roi.ekn", [(1, 3), (20, 101), (7, 200)], "1,20,7")
check("whole-np.ekn", "roi-np.ekn", [(0, 1), (0, 1), (180, 223)], "0,3,183")
check("whole3.ekn", "roi3.ekn", [(3, 22), (0, 5), (9, 26)], "3,0,9")
print("ok")'
    assert_success
    assert_output ok
}

# blocks DIR N MODEL INPUT OPTS...: runs blocks 0..N-1 into DIR/p.h5 and joins them into DIR/j.h5
blocks() {
    local dir=$1 n=$2 model=$3 input=$4
    shift 4
    mkdir -p "$dir"
    for ((b = 0; b < n; b++)); do
        ekn-predict -m "$model" "$@" --block "$b/$n" -o "$dir/p.h5:/membrane" "$input"
    done
    ekn-predict --join -o "$dir/j.h5:/membrane" "$dir"/p.block-*-of-"$n".h5
}

@test "--block I/N for N = 1, 3, 7 with uneven edges: the joined blocks are the single run's bytes (h5py)" {
    need_isbi
    need_h5py
    local o=(--dense --tile 1,21,23 --pad mirror)
    ekn-predict -m "$M2" "${o[@]}" -o whole.h5:/membrane "$D/isbi.ekn"
    ekn-predict -m "$M2" "${o[@]}" -o whole.ekn "$D/isbi.ekn"
    local o3=(--dense --tile 10,10,12)
    ekn-predict -m "$D/mfp3d.h5" "${o3[@]}" -o whole3.h5:/membrane "$D/odd3d.ekn"
    ekn-predict -m "$M2" --dense --tile 21,23 --write class -o whole2d.h5:/membrane "$D/isbi2d.ekn"
    for n in 1 3 7; do
        blocks "b$n" "$n" "$M2" "$D/isbi.ekn" "${o[@]}"
        blocks "c$n" "$n" "$D/mfp3d.h5" "$D/odd3d.ekn" "${o3[@]}"
        blocks "d$n" "$n" "$M2" "$D/isbi2d.ekn" --dense --tile 21,23 --write class
    done
    run py '
w = h5("whole.h5")
assert same(w[()], records("whole.ekn")[0][1][0]), "HDF5 output is not the stream output"
for n in (1, 3, 7):
    for whole, parts in (("whole.h5", "b"), ("whole3.h5", "c"), ("whole2d.h5", "d")):
        j = h5(f"{parts}{n}/j.h5")
        assert same(j[()], h5(whole)[()]), f"{parts}{n}: the join differs"
        assert j.is_virtual and len(j.virtual_sources()) == n
        assert list(j.attrs["offset"]) == list(h5(whole).attrs["offset"])
        assert list(j.attrs["volume"]) == list(j.shape[-len(j.attrs["volume"]):])
# the blocks split Z (3 slices) for N = 3 and Y for N = 7, on multiples of a tile span (8 outputs at stride 2)
starts = sorted(int(h5(f"b7/p.block-{b}-of-7.h5").attrs["start"][1]) for b in range(7))
assert starts == [0, 16, 48, 80, 112, 144, 176], starts
assert [int(h5(f"b3/p.block-{b}-of-3.h5").attrs["start"][0]) for b in range(3)] == [0, 1, 2]
print("ok")'
    assert_success
    assert_output ok
}

@test "HDF5 output: float32 probabilities, --quantize u8, --channel, --write class, --deflate; attributes" {
    need_isbi
    need_h5py
    local o=(-m "$M2" --dense --pad mirror --tile 1,21,23)
    ekn-predict "${o[@]}" -o s.ekn "$D/isbi.ekn"
    ekn-predict "${o[@]}" -o p.h5:/membrane "$D/isbi.ekn"
    ekn-predict "${o[@]}" --quantize u8 --channel 1 -o q.h5:/seg/membrane "$D/isbi.ekn"
    ekn-predict "${o[@]}" --write class --deflate 6 -o c.h5:/classes "$D/isbi.ekn"
    run py '
import hashlib
s = records("s.ekn")
p, q, c = h5("p.h5"), h5("q.h5", "/seg/membrane"), h5("c.h5", "/classes")
assert p.dtype == np.float32 and p.shape == (2, 3, 197, 229) and p.chunks == (1, 3, 64, 64), (p.dtype, p.chunks)
assert same(p[()], s[0][1][0])
want = np.clip(np.floor(s[0][1][0, 1] * np.float32(255) + np.float32(0.5)), 0, 255).astype(np.uint8)
assert q.dtype == np.uint8 and same(q[()], want), "quantised values"
assert c.dtype == np.uint8 and same(c[()], s[1][1][0].astype(np.uint8)) and c.compression == "gzip" and c.compression_opts == 6
assert p.compression is None
a = p.attrs
assert a["axes"] == b"czyx" and q.attrs["axes"] == b"zyx" and a["content"] == b"class probabilities"
assert list(a["offset"]) == [0, 0, 0] and list(a["spacing"]) == [50, 4, 4]
assert list(a["start"]) == [0, 0, 0] and list(a["stop"]) == [3, 197, 229] == list(a["volume"])
assert a["model"].decode().endswith("img-img.h5")
h = 1469598103934665603
for byte in open(a["model"].decode(), "rb").read():
    h = ((h ^ byte) * 1099511628211) % 2**64
assert a["model_hash"] == ("fnv1a64:%016x" % h).encode(), a["model_hash"]
assert "block" not in a
print("ok")'
    assert_success
    assert_output ok
}

@test "kill -9 of random workers mid-run: a rerun redoes only the unfinished blocks, and the join is identical" {
    need_isbi
    need_h5py
    # small tiles: about a second of work per block, so that the kills come mid-run
    local o=(-m "$M2" --dense --pad mirror --tile 1,9,9 -j 1) n=7 seed=${EKN_TEST_SEED:-$RANDOM}
    echo "# seed $seed (EKN_TEST_SEED replays)" >&3
    RANDOM=$seed
    ekn-predict "${o[@]}" -o whole.h5:/membrane "$D/isbi-big.ekn"
    local pids=() b
    for ((b = 0; b < n; b++)); do
        ekn-predict "${o[@]}" --block "$b/$n" -o p.h5:/membrane "$D/isbi-big.ekn" 2>/dev/null &
        pids+=($!)
    done
    sleep "$((RANDOM % 2)).$((RANDOM % 10))"
    local killed=()
    for b in $(shuf -i 0-6 -n 4 --random-source=<(yes "$seed")); do
        kill -9 "${pids[b]}" 2>/dev/null && killed+=("$b")
    done
    wait || true
    echo "# killed: ${killed[*]}" >&3
    # every block file there is whole (the rename is atomic); note which were done
    local before=() ino=()
    for ((b = 0; b < n; b++)); do
        if [[ -e p.block-$b-of-$n.h5 ]]; then
            before+=("$b")
            ino[b]=$(stat -c %i "p.block-$b-of-$n.h5")
        fi
    done
    echo "# finished before the rerun: ${before[*]}" >&3
    ((${#before[@]} < n)) || skip "every worker finished before its kill (seed $seed)"
    # the rerun: finished blocks are skipped (same file), the others are made
    for ((b = 0; b < n; b++)); do
        run --separate-stderr ekn-predict -v "${o[@]}" --block "$b/$n" -o p.h5:/membrane "$D/isbi-big.ekn"
        assert_success
        if [[ -n ${ino[b]:-} ]]; then
            [[ $stderr == *"block $b of $n is done: skipped"* ]] || fail "block $b was predicted again: $stderr"
            [[ $(stat -c %i "p.block-$b-of-$n.h5") == "${ino[b]}" ]] || fail "block $b's file was replaced"
        else
            [[ $stderr != *skipped* ]] || fail "unfinished block $b was skipped"
            [[ -e p.block-$b-of-$n.h5 ]]
        fi
    done
    ! ls ./*.tmp.* 2>/dev/null
    ekn-predict --join -o j.h5:/membrane p.block-*-of-$n.h5
    run py 'assert same(h5("j.h5")[()], h5("whole.h5")[()]); print("ok")'
    assert_output ok
}

@test "a block file of other options or input, a file not HDF5, or a stale temp file of a killed run: predicted again" {
    need_isbi
    local o=(-m "$M2" --dense --pad mirror --tile 1,21,23)
    ekn-predict "${o[@]}" --block 1/3 -o p.h5:/membrane "$D/isbi.ekn"
    # other options: not this job's block
    run --separate-stderr ekn-predict "${o[@]}" --quantize u8 --block 1/3 -o p.h5:/membrane "$D/isbi.ekn"
    assert_success
    [[ $stderr == *"not a finished block of this job"* ]]
    # the input made again (a new modification time)
    cp "$D/isbi.ekn" in.ekn
    ekn-predict "${o[@]}" --block 0/3 -o p.h5:/membrane in.ekn
    run --separate-stderr ekn-predict -v "${o[@]}" --block 0/3 -o p.h5:/membrane in.ekn
    [[ $stderr == *"skipped"* ]]
    touch -d '1 minute ago' in.ekn
    run --separate-stderr ekn-predict -v "${o[@]}" --block 0/3 -o p.h5:/membrane in.ekn
    [[ $stderr == *"not a finished block of this job"* ]]
    # not HDF5 at all
    echo junk >p.block-1-of-3.h5
    run --separate-stderr ekn-predict "${o[@]}" --block 1/3 -o p.h5:/membrane "$D/isbi.ekn"
    assert_success
    [[ $stderr == *"predicting it again"* ]]
    # a temp file of a dead process goes
    : >p.block-2-of-3.h5.tmp.999999999
    ekn-predict "${o[@]}" --block 2/3 -o p.h5:/membrane "$D/isbi.ekn"
    [[ ! -e p.block-2-of-3.h5.tmp.999999999 ]]
    run --separate-stderr ekn-predict -v "${o[@]}" --block 2/3 -o p.h5:/membrane "$D/isbi.ekn"
    [[ $stderr == *"skipped"* ]]
}

# bad CODE MESSAGE ARGS...: exit CODE, one line naming MESSAGE (a usage error of the
# command line may add the line "Try 'ekn-predict --help' ..."), no stdout, no new file
bad() {
    local code=$1 msg=$2 before
    shift 2
    before=$(ls -A)
    run --separate-stderr ekn-predict "$@"
    refute_crash
    assert_equal "$status" "$code"
    assert_no_stdout
    if ((${#stderr_lines[@]} == 2)) && [[ ${stderr_lines[1]} == "Try 'ekn-predict --help' for more information." ]]; then
        stderr=${stderr_lines[0]}
        stderr_lines=("$stderr")
    fi
    assert_one_line_error ekn-predict
    [[ $stderr == *"$msg"* ]] || fail "stderr lacks '$msg': $stderr"
    run ls -A
    assert_output "$before"
}

@test "bad regions exit 2 with one line and write nothing: malformed, empty, outside, I >= N, too many blocks" {
    need_isbi
    local o=(-m "$M2" --dense --pad mirror) in=$D/isbi.ekn
    for r in 1:2,3 a:b,0:5 0:5 0:1,0:2,0:3,0:4 1:2,-3:4,0:5 0:2,0:3,0:4, " 0:1,0:1,0:1"; do
        bad 2 "--roi must be" "${o[@]}" --roi "$r" -o out.ekn "$in"
    done
    bad 2 "is empty" "${o[@]}" --roi 0:3,5:5,0:10 -o out.ekn "$in"
    bad 2 "is empty" "${o[@]}" --roi 0:3,9:5,0:10 -o out.h5:/m "$in"
    bad 2 "lies outside the 197 outputs" "${o[@]}" --roi 0:3,0:198,0:10 -o out.h5:/m "$in"
    bad 2 "lies outside the 3 outputs" "${o[@]}" --roi 2:4,0:19,0:10 -o out.ekn "$in"
    bad 2 "lies outside the 223 outputs" -m "$M2" --dense --roi 0:3,0:19,0:224 -o out.ekn "$in"
    bad 2 "gives 2 ranges, the image has 3 axes" "${o[@]}" --roi 0:19,0:10 -o out.ekn "$in"
    bad 2 "gives 3 ranges, the image has 2 axes" "${o[@]}" --roi 0:1,0:19,0:10 -o out.ekn "$D/isbi2d.ekn"
    bad 2 "does not exist (blocks are 0 to 6)" "${o[@]}" --block 7/7 -o out.h5:/m "$in"
    bad 2 "does not exist" "${o[@]}" --block 9/3 -o out.h5:/m "$in"
    for b in 3 1/0 -1/3 1/3x /3 1/ 1//3; do
        bad 2 "--block must be I/N" "${o[@]}" --block "$b" -o out.h5:/m "$in"
    done
    bad 2 "no axis of the 3x197x229 outputs has 230 voxels" "${o[@]}" --block 3/230 -o out.h5:/m "$in"
    bad 2 "give -o FILE.h5:/DATASET" "${o[@]}" --block 0/3 -o out.ekn "$in"
    bad 2 "--tta and --eval need all of it" "${o[@]}" --roi 0:1,0:5,0:5 --tta flips -o out.ekn "$in"
    bad 2 "are exclusive" "${o[@]}" --roi 0:1,0:5,0:5 --block 0/3 -o out.h5:/m "$in"
    bad 2 "need --dense" -m "$M2" --roi 0:1,0:5,0:5 -o out.ekn "$in"
    bad 2 "need --dense" -m "$M2" -o out.h5:/m "$in"
    bad 2 "shape HDF5 output" "${o[@]}" --quantize u8 -o out.ekn "$in"
    bad 2 "--channel 2: " "${o[@]}" --channel 2 -o out.h5:/m "$in"
    bad 2 "--write prob or --write class" "${o[@]}" --write both -o out.h5:/m "$in"
    # HDF5 output of a record of several examples: a runtime error, still nothing written
    bad 1 "HDF5 output takes one input image of one example" -m "$M2" --dense --pad mirror -o out.h5:/m "$D/vol3d.ekn"
}

@test "--join refuses a missing, repeated or foreign block, and writes nothing" {
    need_isbi
    local o=(-m "$M2" --dense --pad mirror --tile 1,21,23)
    mkdir p q
    for b in 0 1 2; do ekn-predict "${o[@]}" --block "$b/3" -o p/p.h5:/membrane "$D/isbi.ekn"; done
    ekn-predict "${o[@]}" --quantize u8 --block 2/3 -o q/p.h5:/membrane "$D/isbi.ekn"
    cd p
    bad 1 "is block 0 of 3, but 2 block files are given" --join -o ../j.h5:/membrane p.block-0-of-3.h5 p.block-1-of-3.h5
    bad 1 "is given twice" --join -o ../j.h5:/membrane p.block-0-of-3.h5 p.block-1-of-3.h5 p.block-1-of-3.h5
    bad 1 "are not blocks of one job" --join -o ../j.h5:/membrane p.block-0-of-3.h5 p.block-1-of-3.h5 ../q/p.block-2-of-3.h5
    bad 1 "no dataset '/other'" --join -o ../j.h5:/other p.block-*-of-3.h5
    bad 2 "needs the block files" --join -o ../j.h5:/membrane
    bad 2 "give -o FILE.h5:/DATASET" --join -o ../j.ekn p.block-0-of-3.h5
    cd ..
    [[ ! -e j.h5 ]]
    # a part elsewhere is named by its absolute path: the join reads from any directory
    ekn-predict --join -o j.h5:/membrane p/p.block-*-of-3.h5
    [[ -e j.h5 ]]
}

@test "HDF5 input vol.h5:/raw, read box by box: the values of ekn-preprocess's stream (--apply STATS, or its scaling), whole and joined" {
    need_isbi
    need_h5py
    py '
import h5py
v = np.fromfile(args[0] + "/train-volume.u8", np.uint8).reshape(30, 512, 512)[5:8, 100:297, 50:279]
with h5py.File("vol.h5", "w") as f:
    f["raw"] = v
    f["em/raw16"] = v.astype(np.uint16) * 200
    f["four"] = np.zeros((1, 2, 9, 9), np.float32)
    f["nan"] = np.full((20, 20), np.nan, np.float32)
' "$SHARED/data/isbi2012"
    ekn-preprocess vol.h5:/raw --standardise global --fit st.stats -o vol.ekn
    ekn-preprocess vol.h5:/em/raw16 -o vol16.ekn
    local o=(-m "$M2" --dense --pad mirror --tile 1,21,23)
    ekn-predict "${o[@]}" -o a.h5:/m vol.ekn
    ekn-predict "${o[@]}" --apply st.stats -o b.h5:/m vol.h5:/raw
    ekn-predict "${o[@]}" -o c.ekn vol16.ekn
    ekn-predict "${o[@]}" -o d.ekn vol.h5:/em/raw16
    for b in 0 1 2 3 4; do
        run --separate-stderr ekn-predict -v "${o[@]}" --apply st.stats --block "$b/5" -o p.h5:/m vol.h5:/raw
        assert_success
        # only its box (the block grown by the tiles' reach) is read
        [[ $b != 1 || $stderr == *"reads the box 0:3,29:83,0:229 of the input"* ]] || fail "$stderr"
    done
    ekn-predict --join -o j.h5:/m p.block-*-of-5.h5
    run py '
assert same(h5("a.h5", "m")[()], h5("b.h5", "m")[()]), "--apply"
assert same(h5("j.h5", "m")[()], h5("a.h5", "m")[()]), "blocks"
c, d = records("c.ekn"), records("d.ekn")
assert all(same(x[1], y[1]) and x[2] == y[2] for x, y in zip(c, d)), "u16 scaling"
print("ok")'
    assert_output ok
    mkdir w && cd w
    bad 2 "HDF5 input (INPUT FILE.h5:/DATASET) needs --dense" -m "$M2" -o x.ekn ../vol.h5:/raw
    bad 2 "--eval needs labels" "${o[@]}" --eval -o x.ekn ../vol.h5:/raw
    bad 2 "--apply normalises HDF5 input" "${o[@]}" --apply ../st.stats -o x.ekn ../vol.ekn
    bad 1 "has 4 axes" "${o[@]}" -o x.ekn ../vol.h5:/four
    bad 1 "no dataset '/none'" "${o[@]}" -o x.ekn ../vol.h5:/none
    bad 1 "is nan" "${o[@]}" -o x.h5:/m ../vol.h5:/nan
    ekn-preprocess ../vol.h5:/raw --standardise per-pixel --fit ../pix.stats -o /dev/null
    bad 1 "not per-pixel ones" "${o[@]}" --apply ../pix.stats -o x.ekn ../vol.h5:/raw
}

@test "bash completion offers --roi=, --block=, --join and --quantize's types" {
    complete_words ekn-predict --quan
    [[ ${COMPREPLY[*]} == --quantize= ]]
    complete_words ekn-predict --bl
    [[ ${COMPREPLY[*]} == --block= ]]
    complete_words ekn-predict --ro
    [[ ${COMPREPLY[*]} == --roi= ]]
    complete_words ekn-predict --jo
    [[ ${COMPREPLY[*]} == --join ]]
    complete_words ekn-predict --quantize ''
    [[ " ${COMPREPLY[*]} " == *" u8 "* && " ${COMPREPLY[*]} " == *" none "* ]]
}
