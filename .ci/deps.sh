#!/bin/sh
# Installs the Debian 12 packages ekn needs to build, test and run its
# examples.  Idempotent, and quick when everything is present.
set -eu
PKGS="build-essential pkg-config libopenblas-dev libhdf5-dev hdf5-tools libarchive-dev
 libcmocka-dev bats bats-assert bats-support mandoc gnuplot-nox
 python3 python3-numpy python3-h5py dataset-fashion-mnist
 gzip bzip2 xz-utils zstd tar zip valgrind bc clang libclang-rt-14-dev
 libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all present"; exit 0; }
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing:$missing; run 'make deps' as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
