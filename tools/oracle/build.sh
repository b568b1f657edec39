#!/usr/bin/env bash
# Builds tools/oracle/build/dlib-oracle from oracle.cpp against Debian's libdlib-dev (dlib 19.24)
# and OpenBLAS. Rebuilds only when oracle.cpp (or this script) is newer than the binary.
# Needs: apt-get install -y g++ libdlib-dev libopenblas-dev libpng-dev libjpeg-dev
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/oracle.cpp"
out_dir="$here/build"
bin="$out_dir/dlib-oracle"
CXX="${CXX:-g++}"

if [[ -x "$bin" && "$bin" -nt "$src" && "$bin" -nt "${BASH_SOURCE[0]}" && "${1:-}" != "--force" ]]; then
    exit 0
fi
if [[ ! -f /usr/include/dlib/revision.h ]]; then
    echo "build.sh: dlib headers not found (apt-get install libdlib-dev libopenblas-dev)" >&2
    exit 2
fi
mkdir -p "$out_dir"
echo "build.sh: compiling $bin" >&2
"$CXX" -O3 -march=native -ffp-contract=off -std=c++17 -Wall -Wno-unused-variable -Wno-sign-compare \
    "$src" -o "$bin.tmp" -ldlib -lopenblas -lpng -ljpeg -lpthread
mv -f "$bin.tmp" "$bin"
