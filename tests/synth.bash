# synth.bash: `load synth` after `load helper` in a bats file whose tests
# use the synthetic data of tests/synth_data.py (in $D) and nothing else as
# their file's setup; each test runs in its own directory.
setup_file() {
    ekn_synth_data
}

setup() {
    ekn_test_dir
}
