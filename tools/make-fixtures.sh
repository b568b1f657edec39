#!/usr/bin/env bash
# Regenerates the dlib reference fixtures in Tests/Fixtures/ from the installed test data.
#
#   tools/make-fixtures.sh
#
# Reads   $STUDIO_HOME/models/*.dat and $STUDIO_HOME/testdata/{face_recognition,johns}/
#         (STUDIO_HOME defaults to ~/.studio; see /work/shared/reference/test-data.md for
#         how those files are obtained).
# Builds  tools/oracle/build/dlib-oracle (tools/oracle/build.sh; needs libdlib-dev, libopenblas-dev).
# Writes  Tests/Fixtures/dlib-faces.jsonl          faces per image (box, confidence, landmarks, descriptor)
#         Tests/Fixtures/dlib-johns-aligned.jsonl  descriptors of the 55 johns chips fed straight to the net
#         Tests/Fixtures/dlib-chips/*.png          the 150x150 chips dlib extracted for each face
#         Tests/Fixtures/dlib-chip-cases.jsonl     dlib on the committed large rolled chip cases
#         Tests/Fixtures/chip-cases/dlib/*.png     their chips
#
# Upsample per image: 1 when width*height <= MAX_UPSAMPLE_PIXELS (default 1100000, about one
# megapixel; this covers all johns chips), else 0. MMOD at upsample 1 on a larger photo costs
# dlib many seconds and many GB. The value used is in each JSON line ("upsample") and in the
# header, so tests run the same.
#
# Threads: OpenBLAS' thread count changes MMOD confidences in the 7th digit (summation order),
# so the fixtures are made single-threaded (OPENBLAS_NUM_THREADS=1, DLIB_NUM_THREADS=1) unless
# FIXTURE_THREADS is set.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
studio_home="${STUDIO_HOME:-$HOME/.studio}"
models="$studio_home/models"
testdata="$studio_home/testdata"
fixtures="$repo/Tests/Fixtures"
max_pixels="${MAX_UPSAMPLE_PIXELS:-1100000}"
threads="${FIXTURE_THREADS:-1}"
export OPENBLAS_NUM_THREADS="$threads" DLIB_NUM_THREADS="$threads"
export LC_ALL=C

die() { echo "make-fixtures: $*" >&2; exit 2; }

for m in mmod_human_face_detector.dat shape_predictor_5_face_landmarks.dat dlib_face_recognition_resnet_model_v1.dat; do
    [[ -f "$models/$m" ]] || die "missing model $models/$m"
done
[[ -d "$testdata/face_recognition" ]] || die "missing $testdata/face_recognition"
[[ -d "$testdata/johns" ]] || die "missing $testdata/johns"

start=$(date +%s)
"$repo/tools/oracle/build.sh"
oracle="$repo/tools/oracle/build/dlib-oracle"

# Relative paths (as they will appear in the fixtures), sorted.
cd "$testdata"
mapfile -t photos < <(find face_recognition -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) | sort)
mapfile -t johns < <(find johns -mindepth 2 -maxdepth 2 -type f -name '*.jpg' | sort)
[[ ${#photos[@]} -gt 0 ]] || die "no photos in $testdata/face_recognition"
[[ ${#johns[@]} -eq 55 ]] || echo "make-fixtures: warning: expected 55 johns chips, found ${#johns[@]}" >&2

# Choose the upsample per image from its size as the oracle loads it.
up0=() ; up1=() ; up_desc=()
while IFS=$'\t' read -r path w h; do
    if (( w * h <= max_pixels )); then up1+=("$path"); n=1; else up0+=("$path"); n=0; fi
    [[ "$path" == johns/* ]] || up_desc+=("$path=$n (${w}x${h})")
done < <("$oracle" dims --models "$models" "${photos[@]}" "${johns[@]}" |
         sed -E 's/^\{"image":"([^"]*)","width":([0-9]+),"height":([0-9]+)\}$/\1\t\2\t\3/')
for j in "${johns[@]}"; do
    [[ " ${up1[*]} " == *" $j "* ]] || die "johns chip $j is larger than $max_pixels pixels?"
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/dlib-chips"

common=(--models "$models" --chips "$tmp/dlib-chips" --chip-names path --chip-details)
[[ ${#up1[@]} -gt 0 ]] && "$oracle" faces "${common[@]}" --upsample 1 "${up1[@]}" > "$tmp/faces1.jsonl"
[[ ${#up0[@]} -gt 0 ]] && "$oracle" faces "${common[@]}" --upsample 0 "${up0[@]}" > "$tmp/faces0.jsonl"
cat "$tmp"/faces*.jsonl | sort > "$tmp/faces.jsonl"
"$oracle" aligned --models "$models" "${johns[@]}" > "$tmp/aligned.jsonl"

# Chip cases: large rolled chips whose inputs are committed in Tests/Fixtures/chip-cases/ (how they
# were made: chip-cases/README.md); only dlib's outputs are regenerated here. Paths relative to
# Tests/Fixtures. rolled_face goes through detection; rolled_corner has no face, so its landmarks
# are given (a 466 px chip rotated by 18 degrees, hanging over the bottom-left corner).
mkdir -p "$tmp/chip-cases-dlib"
(
    cd "$fixtures"
    "$oracle" faces --models "$models" --upsample 0 --chip-details --chips "$tmp/chip-cases-dlib" chip-cases/rolled_face.jpg
    "$oracle" chip --models "$models" --chips "$tmp/chip-cases-dlib" chip-cases/rolled_corner.png \
        15 279 -48 261 -204 206 -139 231 -133 364
) > "$tmp/chip-cases.jsonl"

info="$("$oracle" info --models "$models")"
openblas="$(sed -E 's/.*"openblas":"([^"]*)".*/\1/' <<<"$info")"
dlib_pkg="$(dpkg-query -W -f='${Version}' libdlib-dev 2>/dev/null || echo unknown)"
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

header() {
    echo "# generator: tools/oracle dlib-oracle (tools/oracle/oracle.cpp), subcommand: $1"
    echo "# dlib: 19.24 (Debian libdlib-dev $dlib_pkg)"
    echo "# openblas: $openblas; OPENBLAS_NUM_THREADS=$threads DLIB_NUM_THREADS=$threads; cpu: $cpu"
    echo "# date: $now"
    echo "# regenerate: tools/make-fixtures.sh"
    echo "# images: ${2:-paths relative to \$STUDIO_HOME/testdata}; models from \$STUDIO_HOME/models"
}

{
    header faces
    echo "# pipeline: load_image -> drop alpha -> pyramid_up x upsample -> MMOD net -> rect_down; 5-point shape_predictor on the original image with the unclipped box; extract_image_chip(get_face_chip_details(shape,150,0.25)); ResNet descriptor"
    echo "# upsample rule: 1 if width*height <= $max_pixels else 0; per line in field \"upsample\""
    echo "# upsample: johns/*=1 (all ${#johns[@]} 150x150 chips)"
    for d in "${up_desc[@]}"; do echo "# upsample: $d"; done
    echo "# chips: dlib-chips/<path with / replaced by __, extension dropped>_<face index>.png"
    cat "$tmp/faces.jsonl"
} > "$tmp/dlib-faces.jsonl"

{
    header aligned
    echo "# each image is a 150x150 aligned chip from dlib's examples/johns, fed straight to the ResNet (no detection, no jitter)"
    cat "$tmp/aligned.jsonl"
} > "$tmp/dlib-johns-aligned.jsonl"

{
    header "faces (rolled_face), chip (rolled_corner)" "paths relative to Tests/Fixtures (committed inputs, see chip-cases/README.md)"
    echo "# chips: chip-cases/dlib/<image stem>[_<face index>].png"
    cat "$tmp/chip-cases.jsonl"
} > "$tmp/dlib-chip-cases.jsonl"

mkdir -p "$fixtures"
rm -rf "$fixtures/chip-cases/dlib"
mv "$tmp/chip-cases-dlib" "$fixtures/chip-cases/dlib"
mv "$tmp/dlib-chip-cases.jsonl" "$fixtures/dlib-chip-cases.jsonl"
rm -rf "$fixtures/dlib-chips"
mv "$tmp/dlib-chips" "$fixtures/dlib-chips"
mv "$tmp/dlib-faces.jsonl" "$fixtures/dlib-faces.jsonl"
mv "$tmp/dlib-johns-aligned.jsonl" "$fixtures/dlib-johns-aligned.jsonl"

end=$(date +%s)
nfaces=$(grep -v '^#' "$fixtures/dlib-faces.jsonl" | grep -o '"box"' | wc -l)
echo "make-fixtures: $(grep -vc '^#' "$fixtures/dlib-faces.jsonl") images, $nfaces faces, $(ls "$fixtures/dlib-chips" | wc -l) chips," \
     "$(du -sh "$fixtures" | cut -f1) in Tests/Fixtures, $((end - start)) s" >&2
