#!/usr/bin/env bash
# scripts/setup.sh — set up, build and run/test studio on Debian 12.
#
#   scripts/setup.sh [install]  install prerequisites + data, build (release)
#   scripts/setup.sh run        ... then run the main job (function main_job below)
#   scripts/setup.sh test       ... then run the whole test suite, optimised (-c release)
#   add --offline to fail instead of fetching anything
#
# Steps (every one idempotent; a second run does no network work):
#   1. Debian packages (apt-get; only when one is missing, and only then `apt-get update`)
#   2. model weights  -> $STUDIO_HOME/models    (PyPI sdist face-recognition-models==0.3.0, CC0 files only)
#   3. generator      -> $STUDIO_HOME/models    (PyPI wheel gan-face-generate==1.1.1: weights.tar only)
#   4. test images    -> $STUDIO_HOME/testdata  (face_recognition==1.3.0 sdist test photos; install and
#                                                 test modes: dlib's examples/johns from Debian's dlib
#                                                 source package, and the dlib oracle's libdlib-dev, g++)
#   5. swift build -c release  (test mode: with -Xswiftc -enable-testing --build-tests)
#   6. /usr/local/bin/studio -> the release build (studio on PATH); install and run modes also
#      install the man page (man studio), generated from the commands' help
# Everything fetched is pinned by version and SHA-256.  STUDIO_HOME defaults to ~/.studio.
# Progress ("setup: ...") and tool output go to stderr; the main job's and the tests' output to stdout.
#
# Environment: STUDIO_HOME; SETUP_SKIP_BUILD=1 skips steps 5-6 and the run/test step.
set -euo pipefail

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ----------------------------------------------------------------------------- arguments
MODE=install
OFFLINE=0
for arg in "$@"; do
    case "$arg" in
        run|test|install) MODE=$arg ;;
        --offline) OFFLINE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'setup: unknown argument: %s\n\n' "$arg" >&2; usage >&2; exit 2 ;;
    esac
done

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STUDIO_HOME=${STUDIO_HOME:-${HOME:?HOME is not set; set STUDIO_HOME}/.studio}
export STUDIO_HOME
MODELS_DIR=$STUDIO_HOME/models
TESTDATA_DIR=$STUDIO_HOME/testdata
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# ----------------------------------------------------------------------------- pins
APT_PACKAGES=(libpng-dev libjpeg-dev libcurl4-openssl-dev libjson-c-dev libopenblas-dev ffmpeg
              libsqlite3-dev pkg-config)
# The dlib oracle (tools/oracle: test fixtures' reference and the benchmarks' baseline): install and
# test modes only, since the main job (run mode) needs neither it nor dlib's example chips (johns).
ORACLE_PACKAGES=(libdlib-dev g++)

# Model weights: PyPI source distribution (the weights live only in the sdist).
MODELS_PKG=face-recognition-models==0.3.0
MODELS_SDIST=face_recognition_models-0.3.0.tar.gz
MODELS_SDIST_SHA256=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
MODELS_MEMBER_DIR=face_recognition_models-0.3.0/face_recognition_models/models
# file  sha256  bytes   (CC0-1.0; shape_predictor_68_face_landmarks.dat is deliberately NOT installed:
# it was trained on iBUG 300-W, which is not licensed for commercial use)
MODELS='
dlib_face_recognition_resnet_model_v1.dat  55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30  22466066
mmod_human_face_detector.dat               4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6  729940
shape_predictor_5_face_landmarks.dat       c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888  9150489
'
MODELS_SOURCE="PyPI face-recognition-models==0.3.0"
MODELS_LICENCE="CC0-1.0"

# Face generator (DCGAN, 64x64): PyPI wheel gan-face-generate==1.1.1; only its weights.tar (a PyTorch
# zip checkpoint, read natively by StudioLocal/TorchCheckpoint.swift; never unpickled by Python).
GEN_PKG=gan-face-generate==1.1.1
GEN_WHEEL=gan_face_generate-1.1.1-py3-none-any.whl
GEN_WHEEL_SHA256=24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569
GEN_MEMBER=gan_face_generate/weights.tar
GEN_FILE=gan_face_generate_weights.tar
GEN_SHA256=0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f
GEN_BYTES=14322251
GEN_SOURCE="PyPI gan-face-generate==1.1.1"
GEN_LICENCE="code MIT; weights trained on DigiFace-1M (research/non-commercial licence)"

# dlib's example face chips: Debian source package dlib 19.24+dfsg-1 (bookworm).
DLIB_SRC_VERSION=19.24+dfsg-1
DLIB_ORIG=dlib_19.24+dfsg.orig.tar.bz2
DLIB_ORIG_SHA256=66b4263822a2ff91a3e769e501c7d7927a13089e178c1427ec19cb0475823cf6

# face_recognition's test photos: PyPI source distribution (its metadata step needs `wheel`).
FACEREC_PKG=face_recognition==1.3.0
FACEREC_SDIST=face_recognition-1.3.0.tar.gz
FACEREC_SDIST_SHA256=5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec
FACEREC_MEMBER_DIR=face_recognition-1.3.0/tests/test_images
WHEEL_PKG=wheel==0.45.1
WHEEL_FILE=wheel-0.45.1-py3-none-any.whl
WHEEL_SHA256=708e7481cc80179af0e556bbf0cc00b8444c7321e2700b8d8580231d13017248

# CLIP's byte-pair merges (the tokenizer tests' vocabulary; Stable Diffusion 1.x's text encoder uses
# this table): open_clip's copy of OpenAI's bpe_simple_vocab_16e6.txt.gz, MIT, in the PyPI wheel below.
CLIP_PKG=open_clip_torch==3.3.0
CLIP_WHEEL=open_clip_torch-3.3.0-py3-none-any.whl
CLIP_WHEEL_SHA256=c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce
CLIP_MEMBER=open_clip/bpe_simple_vocab_16e6.txt.gz
CLIP_SHA256='
67603cfda2e032ad77b5f8808af37789d590db664b26df8705d2bf8b3c553fc8  bpe_simple_vocab_16e6.txt
'

# Per-file SHA-256 of the installed test images (sha256sum format, relative to the set's folder).
JOHNS_SHA256='
0746dd3800035ee47842520e89da30d6890a89bcc737b510de42d307ce324f92  John_Salley/000179_02159509.jpg
34ad490007419a2ffa8c59dbbb7b5d7fb7f6b8592ee61c4935b95502ecee5a83  John_Salley/000183_02159543.jpg
feae177e82c18f30d4185fbb74a0b86cce81533e3fd0ad41a6d47348e6b1690a  John_Salley/000186_02159346.jpg
5c676851430fd37324186db62180375dbe43cc651a11baf884b41c7355b7adcb  John_Salley/000189_02159361.jpg
46061ccf5f1182c2ddf38e15b97eaaa1e1b680bd8b77167e81c23222385ab1c9  John_Salley/000190_02159501.jpg
1195de34b90494a85b2d9acc6fcfc63e420e50f0643d0cb941e164564a93a462  John_Salley/000192_02159531.jpg
f31c9b54e688dd40b93dbd03143dced5ef9b910f7bc31480a57df92bc43b5826  John_Salley/000194_02159572.jpg
74b907a60a4e6ccaf0579556611ac1da44b0ef9952de69d0f2a1975ac5805d77  John_Salley/000197_02159322.jpg
0c8063fcb3f8380096b1bea6fa45d51dc035b4440871b1afb0faf2941336bc78  John_Salley/000197_02159525.jpg
3997d74f00079292a20985ee10836d7339722aa4bb338bf500415aac746504e6  John_Salley/000198_02159470.jpg
6fb36f5546247c2a6a3a8e2444ee64cd67c635038202156b3c2cf4189b58b2ca  John_Salley/000200_02159354.jpg
14eed136cdd4080c5b5cbd8ddc6928e979de2f75cc36b8ccc25f7f3d2f953472  John_Savage/000264_01099001.jpg
963beefe814c9e5e7ee85771de931d8d1fbad881181caaa25f08fb916b9070f8  John_Savage/000274_01099061.jpg
d13c13fbeab0e4e537c472c31ebe901e67edeab7a6d5cb9f712dcbbf006c7ef3  John_Savage/000277_01099000.jpg
7c51344a8f6186e50a6576c7150e25d4f0886cd6b77145a44b974da8ebd4f656  John_Savage/000289_01099139.jpg
a739afbc670df1f9a0e1db3e377625433f826a0cd19b59e87bd2962ac5592921  John_Savage/000290_01099067.jpg
df0920ea9aee4af6e024ad7f13d1ec123afb9b2dca50092e2da031b752f90486  John_Savage/000290_01099090.jpg
1a87cfe7494cebaca178577362d9df7ed070d229e893d69668279fd509faf726  John_Savage/000291_01099023.jpg
3c012fdceadaf4093fb8b60ebeb9dfd04f9895b3042817bcd8ad56a1a7979b4b  John_Savage/000291_01099214.jpg
a915ea14f07eb602a38cea48dbe0af25e61458b374cca6b5ded133970fbf6738  John_Savage/000293_01099081.jpg
b2a5982b79fc05464f3dbf9683109fb2186c6fd6a630e67c172b421d57d0f6cd  John_Savage/000296_01099007.jpg
48135745f2de730862e2ba2647d6a329b58c9cc2ca96112ca8170d926216356a  John_Savage/000299_01099008.jpg
8900ddf30b907b45d58d78fbe85dc52daa126a20edccd0af20a501c2192eb8d9  John_Schneider/000288_00925786.jpg
c1fff8cadef7ac405c12fcaea3f2ce005b4bea682f9b0ff850aeb297477183b1  John_Schneider/000302_00925785.jpg
7460dad4bd21e077896cfa5e45bf44fde4c66d23a6147d785ad7100fb389c9af  John_Schneider/000307_00925823.jpg
59387450152a14bdc667755db88125f962555140b00488b29a02eb21721f75ca  John_Schneider/000325_00925954.jpg
d215376c3e7f89f85fa0f667141600733e653a843224036cf377a6842f22508e  John_Schneider/000326_00925765.jpg
f79a401ef35ec02bd12ca98cfe1d29025bafe3ce87e23eef1eb47deaaf4e2ac4  John_Schneider/000326_00926089.jpg
f5731324fc2d5e2173cb627e0d28898b3220a4298bcd78c49e6b97dce05ee7b9  John_Schneider/000326_00926128.jpg
963bd64806fb22d27a4d8b903b9b2a20304d0bbd064149c8c29192ea9a72f690  John_Schneider/000326_00926139.jpg
58e0a4141ecb966ac83aba88562719accdcdc12376a5a8c10c1475d65e741b1c  John_Schneider/000329_00925859.jpg
580330c8fa271cc509620d8d380937f45ee49b4f7f2a09126921dad918055a1b  John_Schneider/000329_00925963.jpg
3d1fcdcfd4205e2c92eff4db8b4c6cd22a1d57f03df1dce9cf0bcb4952f0e067  John_Schneider/000331_00926012.jpg
457a4a7a038291f40274ecf11e869c3f119e6bf4d0ff84971424a3054484a45a  John_Shimkus/000373_03228153.jpg
e01aaf38b541e806e1469839db5caccb523591c1cc9b4f3429469a65439d236a  John_Shimkus/000375_03227651.jpg
4b19df0572048b3ebcf5d4a44b3d03844f024ba90b7a235430900e54816eb322  John_Shimkus/000376_02340068.jpg
0c309a24a6611ebc5a0a30a476819d551409c4d636cc8fe813c015412c26038f  John_Shimkus/000378_02340151.jpg
0c309a24a6611ebc5a0a30a476819d551409c4d636cc8fe813c015412c26038f  John_Shimkus/000378_03227610.jpg
2687d6271246ecf599e07294d1abe84e2ee67430626643182daa74040d52070c  John_Shimkus/000383_03227939.jpg
e183fc03869b13cfa7372d7ff7495c7966aa1f87f0fd3fbf0334bc7718b315d8  John_Shimkus/000385_03227766.jpg
285507f70f60eebe3dfdb985645f6ce4a124e31484635093ac9921840aed889c  John_Shimkus/000388_03227773.jpg
642de9776b341c01575ac681bee0b879097d03cb9875c773b5b1efc332d3ffaf  John_Shimkus/000390_03227666.jpg
f982b0ed19b17fbffa733ea4021d64f7530ed56b8b49b6ba4110706f28bbc382  John_Shimkus/000394_02340150.jpg
290ac1aea49ea5586c8b02fe16e8c6026b4fe65cbe13c71114b3530a3254a8a8  John_Shimkus/000396_03227722.jpg
0283a79b2b661b3452796c5cf197eb7abba03974eeb8f4a4eae2d60f85f4a5c0  John_Simm/000288_00470387.jpg
da2bd90ee746468220a217535130dadffa5ebaa2db3f8293e2d319d4a7247efd  John_Simm/000297_00470170.jpg
21e8a27203f7ab27f58f62f81cb61beb4269ba797c03bbd8d7949aab3c5f8f34  John_Simm/000300_00470148.jpg
e5de14637ad7702f1dc0b2991c1eb6e4a4a5d8ca6553b35edab25db1457c7747  John_Simm/000304_00470122.jpg
1d35bc715aff1d1e2507e1f2daf10b9fe630f48b5f7f48ab6c062adc8b2e53cc  John_Simm/000305_00470162.jpg
dac8ddb986fd4982165a9ed6ad3de5c9d7ab16f477c8c9aee6bf827b70ad0b06  John_Simm/000305_00470717.jpg
ee3b7d8c944ce27289d42d716d692bee6a91b82f23db1dc3b219b276472dca5f  John_Simm/000306_00470222.jpg
9a42baf63e6b0703f5315cf514eb586508000c00e287f4f8ea066bdc9f74e865  John_Simm/000306_00470223.jpg
a940745579f147de6c3411dcaac92c39dbb37bcd2f094d2859951d945976b7d9  John_Simm/000309_00470287.jpg
b9a98269a8deb8f66c88d2dd1a067d869d3e6fe1a7c12eb0863af8edd07a0b89  John_Simm/000310_00470421.jpg
f77c91f446f2411f4fc7f0405471dd06fd74eb7626c6e3059f458eadc893f26d  John_Simm/000310_00470511.jpg
'
FACEREC_SHA256='
44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627  32bit.png
3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c  biden.jpg
0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6  obama.jpg
a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6  obama2.jpg
76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3  obama3.jpg
c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117  obama_partial_face.jpg
9a812347f97633542b8cd9992de22def11b74f79d82056bc3ee830f13878e028  obama_partial_face2.jpg
'

# ----------------------------------------------------------------------------- helpers
log()  { printf 'setup: %s\n' "$*" >&2; }
die()  { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

SUMMARY=()
CURRENT_STEP=""
STEP_T0=""
step_begin() { CURRENT_STEP=$1; STEP_T0=$(now); log "== $1"; }
step_end()   { SUMMARY+=("$(printf '%-10s %-8s %s' "$CURRENT_STEP" "$(elapsed "$STEP_T0")" "$1")"); CURRENT_STEP=""; }

# Temporary files: one private directory per run (made below, after the trap), plus staging
# paths inside the install folders; the EXIT trap removes all of them.
TMP_ROOT=""
CLEANUP_PATHS=()
tmpdir() {   # tmpdir NAME -> prints a fresh directory under this run's private temp root
    mkdir -p "$TMP_ROOT/$1"
    printf '%s\n' "$TMP_ROOT/$1"
}

T_START=$(now)
on_exit() {
    local rc=$?
    set +e
    for p in "${CLEANUP_PATHS[@]}"; do rm -rf -- "$p"; done
    if [ -n "$TMP_ROOT" ]; then rm -rf -- "$TMP_ROOT"; fi
    {
        echo
        log "summary (mode: $MODE$([ "$OFFLINE" = 1 ] && echo ', offline'); STUDIO_HOME=$STUDIO_HOME)"
        for line in "${SUMMARY[@]}"; do log "  $line"; done
        if [ -n "$CURRENT_STEP" ]; then log "  $(printf '%-10s %-8s %s' "$CURRENT_STEP" "$(elapsed "$STEP_T0")" "FAILED")"; fi
        if [ "$rc" -eq 0 ]; then log "done in $(elapsed "$T_START")"
        else log "FAILED (exit $rc) after $(elapsed "$T_START")"; fi
    } >&2
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/studio-setup.XXXXXX")

# Network is only ever touched after this guard.
need_network() {
    if [ "$OFFLINE" = 1 ]; then die "--offline: $1 is missing or does not match its pinned SHA-256, and fetching is disabled"; fi
}

# retry CMD...: up to 4 attempts, waiting 5, 15, 45 seconds between them.
retry() {
    local delays=(5 15 45) attempt=1
    until "$@"; do
        if [ "$attempt" -ge 4 ]; then log "giving up after $attempt attempts: $*"; return 1; fi
        log "attempt $attempt failed; retrying in ${delays[attempt-1]}s: $*"
        sleep "${delays[attempt-1]}"
        attempt=$((attempt + 1))
    done
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }
has_sha256() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }
verify_download() {   # verify_download FILE SHA256 [LABEL] -> dies loudly on mismatch
    local label=${3:-$(basename "$1")} got
    [ -f "$1" ] || die "$label: expected file $1 is missing"
    got=$(sha256_of "$1")
    [ "$got" = "$2" ] || die "SHA-256 mismatch for $label: expected $2, got $got"
    log "verified $label (sha256 $2)"
}
# check_set DIR PINS [quiet]: every file listed in PINS exists under DIR with its SHA-256.
check_set() {
    [ -d "$1" ] || return 1
    if [ "${3:-}" = quiet ]; then
        (cd "$1" && printf '%s' "$2" | sed '/^$/d' | sha256sum --quiet --strict -c - >/dev/null 2>&1)
    else
        (cd "$1" && printf '%s' "$2" | sed '/^$/d' | sha256sum --quiet --strict -c - >&2)
    fi
}
pin_names() { printf '%s' "$1" | awk 'NF { print $2 }'; }
pin_count() { pin_names "$1" | wc -l | tr -d ' '; }

# Root for apt-get install: run as root, or through sudo (non-interactive when there is no terminal).
AS_ROOT=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ] && [ -z "${CI:-}" ]; then AS_ROOT=(sudo); else AS_ROOT=(sudo -n); fi
    else
        AS_ROOT=(__no_root__)
    fi
fi
as_root() {
    if [ "${AS_ROOT[0]:-}" = __no_root__ ]; then die "root is needed to run: $* (run as root, or install sudo)"; fi
    "${AS_ROOT[@]}" "$@"
}

PIP=(python3 -m pip)
pip_dl() { "${PIP[@]}" download --progress-bar off --no-deps "$@" >&2; }

# ----------------------------------------------------------------------------- 1. apt packages
pkg_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

step_apt() {
    step_begin apt
    local wanted=("${APT_PACKAGES[@]}") missing=() p
    [ "$MODE" = run ] || wanted+=("${ORACLE_PACKAGES[@]}")
    # Tools this script itself uses, added only when absent.
    command -v bzip2 >/dev/null 2>&1 || wanted+=(bzip2)
    command -v python3 >/dev/null 2>&1 || wanted+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || wanted+=(python3-pip)
    for p in "${wanted[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "all ${#wanted[@]} packages already installed (no apt-get update)"
        step_end "ok, all ${#wanted[@]} packages already installed"
        return
    fi
    need_network "Debian packages (${missing[*]})"
    log "installing: ${missing[*]}"
    local apt_opts=(-q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)
    retry as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update >&2
    retry as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" >&2
    for p in "${missing[@]}"; do pkg_installed "$p" || die "package $p is still not installed"; done
    step_end "installed ${#missing[@]}: ${missing[*]}"
}

# ----------------------------------------------------------------------------- 2. model weights
write_models_manifest() {
    local out="$MODELS_DIR/MANIFEST.json" tmp="$MODELS_DIR/.MANIFEST.json.partial.$$" first=1 f sha bytes
    CLEANUP_PATHS+=("$tmp")
    {
        printf '{\n  "models": [\n'
        while read -r f sha bytes; do
            [ -n "$f" ] || continue
            [ "$first" = 1 ] || printf ',\n'
            first=0
            printf '    {"file": "%s", "sha256": "%s", "bytes": %s, "source": "%s", "licence": "%s"}' \
                "$f" "$sha" "$bytes" "$MODELS_SOURCE" "$MODELS_LICENCE"
        done <<<"$MODELS"
        # The generator is listed once it is installed with its pinned SHA-256 (step 3).
        if has_sha256 "$MODELS_DIR/$GEN_FILE" "$GEN_SHA256"; then
            [ "$first" = 1 ] || printf ',\n'
            printf '    {"file": "%s", "sha256": "%s", "bytes": %s, "source": "%s", "licence": "%s"}' \
                "$GEN_FILE" "$GEN_SHA256" "$GEN_BYTES" "$GEN_SOURCE" "$GEN_LICENCE"
        fi
        printf '\n  ]\n}\n'
    } >"$tmp"
    if cmp -s "$tmp" "$out"; then rm -f "$tmp"; return 1; fi
    mv -f "$tmp" "$out"
}

step_models() {
    step_begin models
    mkdir -p "$MODELS_DIR"
    local f sha bytes bad=()
    while read -r f sha bytes; do
        [ -n "$f" ] || continue
        if has_sha256 "$MODELS_DIR/$f" "$sha"; then continue; fi
        if [ -e "$MODELS_DIR/$f" ]; then log "$f: present but its SHA-256 is wrong"; fi
        bad+=("$f")
    done <<<"$MODELS"

    local status
    if [ "${#bad[@]}" -eq 0 ]; then
        log "3 model files present with pinned SHA-256 (no fetch)"
        status="ok, 3 files verified"
    else
        need_network "model weights (${bad[*]})"
        local dl x
        dl=$(tmpdir models-dl); x=$(tmpdir models-x)
        log "fetching $MODELS_PKG from PyPI (~100 MB source distribution)"
        retry pip_dl "$MODELS_PKG" -d "$dl"
        verify_download "$dl/$MODELS_SDIST" "$MODELS_SDIST_SHA256"
        local members=()
        for f in "${bad[@]}"; do members+=("$MODELS_MEMBER_DIR/$f"); done
        tar -xzf "$dl/$MODELS_SDIST" -C "$x" --no-same-owner --no-same-permissions "${members[@]}"
        while read -r f sha bytes; do
            [ -n "$f" ] || continue
            [ -f "$x/$MODELS_MEMBER_DIR/$f" ] || continue
            local part="$MODELS_DIR/.$f.partial.$$"
            CLEANUP_PATHS+=("$part")
            cp -- "$x/$MODELS_MEMBER_DIR/$f" "$part"
            verify_download "$part" "$sha" "$f"
            chmod 0644 "$part"
            mv -f -- "$part" "$MODELS_DIR/$f"      # atomic within the folder
            log "installed $MODELS_DIR/$f"
        done <<<"$MODELS"
        status="fetched ${#bad[@]}: ${bad[*]}"
    fi
    if write_models_manifest; then log "wrote $MODELS_DIR/MANIFEST.json"; fi
    step_end "$status"
}

# ----------------------------------------------------------------------------- 3. generator
step_generator() {
    step_begin generator
    mkdir -p "$MODELS_DIR"
    local dest="$MODELS_DIR/$GEN_FILE" status
    if has_sha256 "$dest" "$GEN_SHA256"; then
        log "$GEN_FILE present with pinned SHA-256 (no fetch)"
        status="ok, 1 file verified"
    else
        if [ -e "$dest" ]; then log "$GEN_FILE: present but its SHA-256 is wrong"; fi
        need_network "generator weights ($GEN_FILE)"
        local dl x part
        dl=$(tmpdir gen-dl); x=$(tmpdir gen-x)
        log "fetching $GEN_PKG from PyPI (~13 MB wheel)"
        retry pip_dl "$GEN_PKG" -d "$dl"
        verify_download "$dl/$GEN_WHEEL" "$GEN_WHEEL_SHA256"
        # Extract the one member with Python's zipfile (a wheel is a zip; nothing in it is run).
        python3 - "$dl/$GEN_WHEEL" "$GEN_MEMBER" "$x/$GEN_FILE" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "xb") as dst:
    shutil.copyfileobj(src, dst)
PY
        part="$MODELS_DIR/.$GEN_FILE.partial.$$"
        CLEANUP_PATHS+=("$part")
        cp -- "$x/$GEN_FILE" "$part"
        verify_download "$part" "$GEN_SHA256" "$GEN_FILE"
        chmod 0644 "$part"
        mv -f -- "$part" "$dest"      # atomic within the folder
        log "installed $dest"
        status="fetched $GEN_FILE"
    fi
    if write_models_manifest; then log "wrote $MODELS_DIR/MANIFEST.json"; fi
    step_end "$status"
}

# ----------------------------------------------------------------------------- 4. test data
# install_set NAME STAGED PINS: verify a staged folder, then swap it into $TESTDATA_DIR/NAME.
install_set() {
    local name=$1 staged=$2 pins=$3 dest="$TESTDATA_DIR/$1" old="$TESTDATA_DIR/.$1.old.$$"
    check_set "$staged" "$pins" || die "$name: extracted files do not match the pinned SHA-256 values"
    CLEANUP_PATHS+=("$old")
    if [ -e "$dest" ]; then mv -- "$dest" "$old"; fi
    mv -- "$staged" "$dest"
    rm -rf -- "$old"
    printf '%s\n' "$(printf '%s' "$pins" | sha256sum | cut -d' ' -f1)" >"$TESTDATA_DIR/.$name.ok"
    log "installed $(pin_count "$pins") files in $dest"
}

# set_present NAME PINS: the set is installed and every file matches (the marker alone is not trusted).
set_present() {
    local name=$1 pins=$2 marker="$TESTDATA_DIR/.$1.ok" digest
    digest=$(printf '%s' "$pins" | sha256sum | cut -d' ' -f1)
    check_set "$TESTDATA_DIR/$name" "$pins" quiet || return 1
    if [ "$(cat "$marker" 2>/dev/null)" != "$digest" ]; then printf '%s\n' "$digest" >"$marker"; fi
}

# Write deb-src versions of the system's apt sources into DIR (the system's config is only read).
write_src_sources() {
    local dir=$1 SL SP f n=0
    eval "$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)"
    for f in "${SP%/}"/*.sources; do
        [ -f "$f" ] || continue
        sed -E 's/^Types:.*$/Types: deb-src/' "$f" >"$dir/src-$n.sources"; n=$((n + 1))
    done
    for f in "$SL" "${SP%/}"/*.list; do
        [ -f "$f" ] || continue
        sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' "$f" >"$dir/src-$n.list"; n=$((n + 1))
    done
    [ "$n" -gt 0 ] || die "no apt sources found to derive deb-src entries from"
}

fetch_johns() {
    need_network "test data johns"
    local w src x staged
    w=$(tmpdir apt); x=$(tmpdir johns-x)
    mkdir -p "$w/etc" "$w/lists/partial" "$w/cache/archives/partial" "$w/src"
    # As root, let apt's unprivileged _apt download user write here (else apt warns and runs unsandboxed).
    if [ "$(id -u)" -eq 0 ] && id -u _apt >/dev/null 2>&1; then chmod 0755 "$TMP_ROOT" "$w"; chown _apt "$w/src"; fi
    write_src_sources "$w/etc"
    # A private apt configuration: own source list, package lists and cache; no root needed.
    # The system's update hooks are cleared for these calls (they act on the system's cache, not ours).
    printf '#clear APT::Update::Post-Invoke;\n#clear APT::Update::Post-Invoke-Success;\n' >"$w/apt.conf"
    local o=(-q -c "$w/apt.conf" -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$w/etc"
             -o "Dir::State::Lists=$w/lists" -o "Dir::Cache=$w/cache")
    log "fetching Debian source package dlib=$DLIB_SRC_VERSION (private apt config; ~209 MB incl. dlib's model tarball)"
    retry apt-get "${o[@]}" update >&2
    (cd "$w/src" && retry apt-get "${o[@]}" source --download-only "dlib=$DLIB_SRC_VERSION" >&2)
    verify_download "$w/src/$DLIB_ORIG" "$DLIB_ORIG_SHA256"
    tar -xjf "$w/src/$DLIB_ORIG" -C "$x" --no-same-owner --no-same-permissions --wildcards '*/examples/johns/*'
    src=$(find "$x" -mindepth 3 -maxdepth 3 -type d -path '*/examples/johns' | head -n 1)
    [ -n "$src" ] || die "examples/johns not found in $DLIB_ORIG"
    staged="$TESTDATA_DIR/.johns.new.$$"; CLEANUP_PATHS+=("$staged")
    cp -R -- "$src" "$staged"
    install_set johns "$staged" "$JOHNS_SHA256"
}

fetch_facerec() {
    need_network "test data face_recognition"
    local w staged f members=()
    w=$(tmpdir facerec)
    log "fetching $FACEREC_PKG source distribution (metadata step uses $WHEEL_PKG)"
    retry pip_dl "$WHEEL_PKG" -d "$w/wheel"
    verify_download "$w/wheel/$WHEEL_FILE" "$WHEEL_SHA256"
    python3 -m zipfile -e "$w/wheel/$WHEEL_FILE" "$w/wheel-site"
    retry env PYTHONPATH="$w/wheel-site" "${PIP[@]}" download --progress-bar off --no-deps \
        --no-binary :all: --no-build-isolation "$FACEREC_PKG" -d "$w/sdist" >&2
    verify_download "$w/sdist/$FACEREC_SDIST" "$FACEREC_SDIST_SHA256"
    for f in $(pin_names "$FACEREC_SHA256"); do members+=("$FACEREC_MEMBER_DIR/$f"); done
    mkdir -p "$w/x"
    tar -xzf "$w/sdist/$FACEREC_SDIST" -C "$w/x" --no-same-owner --no-same-permissions "${members[@]}"
    staged="$TESTDATA_DIR/.face_recognition.new.$$"; CLEANUP_PATHS+=("$staged")
    cp -R -- "$w/x/$FACEREC_MEMBER_DIR" "$staged"
    install_set face_recognition "$staged" "$FACEREC_SHA256"
}

fetch_clip() {
    need_network "test data clip"
    local w staged
    w=$(tmpdir clip)
    log "fetching $CLIP_PKG (for its CLIP merges file, $CLIP_MEMBER)"
    retry pip_dl "$CLIP_PKG" -d "$w/wheel"
    verify_download "$w/wheel/$CLIP_WHEEL" "$CLIP_WHEEL_SHA256"
    python3 -m zipfile -e "$w/wheel/$CLIP_WHEEL" "$w/x"
    staged="$TESTDATA_DIR/.clip.new.$$"; CLEANUP_PATHS+=("$staged")
    mkdir -p "$staged"
    gzip -dc "$w/x/$CLIP_MEMBER" >"$staged/bpe_simple_vocab_16e6.txt"
    install_set clip "$staged" "$CLIP_SHA256"
}

step_testdata() {
    step_begin testdata
    mkdir -p "$TESTDATA_DIR"
    local done_=() fetched=()
    local n=$(pin_count "$FACEREC_SHA256") sets="face_recognition"
    if [ "$MODE" = run ]; then
        log "johns (dlib's example chips, ~209 MB source package) are for the tests and benchmarks: not needed by run mode"
    elif set_present johns "$JOHNS_SHA256"; then done_+=("johns"); n=$(( n + $(pin_count "$JOHNS_SHA256") )); sets="johns + $sets"
    else fetch_johns; fetched+=("johns"); fi
    if [ "$MODE" = run ]; then :
    elif set_present clip "$CLIP_SHA256"; then done_+=("clip"); n=$(( n + 1 )); sets="clip + $sets"
    else fetch_clip; fetched+=("clip"); fi
    if set_present face_recognition "$FACEREC_SHA256"; then done_+=("face_recognition"); else fetch_facerec; fetched+=("face_recognition"); fi
    if [ "${#fetched[@]}" -eq 0 ]; then
        log "$sets present with pinned SHA-256 ($n files, no fetch)"
        step_end "ok, $n files verified"
    else
        step_end "fetched: ${fetched[*]}${done_:+; already present: ${done_[*]}}"
    fi
}

# ----------------------------------------------------------------------------- 5. build
find_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        for d in /opt/swift/usr/bin /opt/swift/bin; do
            if [ -x "$d/swift" ]; then PATH="$d:$PATH"; export PATH; break; fi
        done
    fi
    command -v swift >/dev/null 2>&1 || die "swift not found on PATH (expected Swift 6 toolchain, e.g. /opt/swift/usr/bin)"
}

SWIFT_FLAGS=()
step_build() {
    step_begin build
    if [ "${SETUP_SKIP_BUILD:-0}" = 1 ]; then log "SETUP_SKIP_BUILD=1: skipping"; step_end "skipped (SETUP_SKIP_BUILD=1)"; return; fi
    find_swift
    # --manifest-cache none: Package.swift discovers adapters/ by listing it, and SwiftPM's shared manifest
    # cache is keyed on the file's text only, so a cached reading would miss an adapter added since.
    SWIFT_FLAGS=(-c release --manifest-cache none)
    # Test mode builds the tests here, with the flags the test step uses, and the test step runs
    # them with --skip-build: one build, not two (`swift test` would otherwise plan its own build
    # and recompile everything; a release build with and without -enable-testing also differ).
    if [ "$MODE" = test ]; then SWIFT_FLAGS+=(-Xswiftc -enable-testing); fi
    if [ "$OFFLINE" = 1 ]; then SWIFT_FLAGS+=(--skip-update); fi
    log "$(swift --version 2>&1 | head -n 1)"
    if [ "$MODE" = test ]; then
        log "swift build ${SWIFT_FLAGS[*]} --build-tests"
        (cd "$REPO_ROOT" && swift build "${SWIFT_FLAGS[@]}" --build-tests >&2)
    else
        log "swift build ${SWIFT_FLAGS[*]}"
        (cd "$REPO_ROOT" && swift build "${SWIFT_FLAGS[@]}" >&2)
    fi
    step_end "ok, $REPO_ROOT/.build/release/studio"
}

# Puts `studio` on PATH: /usr/local/bin/studio, a link to this checkout's release build (left alone
# when it is a file of its own; a warning, not a failure, without root).
step_link() {
    [ "${SETUP_SKIP_BUILD:-0}" = 1 ] && return
    local target="$REPO_ROOT/.build/release/studio" link=/usr/local/bin/studio
    if [ "$(readlink "$link" 2>/dev/null || true)" = "$target" ]; then log "$link -> $target (present)"; return; fi
    if [ -e "$link" ] && [ ! -L "$link" ]; then log "warning: $link exists and is not a link: left alone; run $target"; return; fi
    if [ "${AS_ROOT[0]:-}" != __no_root__ ] && as_root ln -sfn "$target" "$link" 2>/dev/null; then log "linked $link -> $target"; else log "warning: could not link $link (no root): run $target"; fi
}

# The man page, made from the commands' own help by swift-argument-parser's generate-manual plugin
# (install and run modes: in test mode it would rebuild studio without -enable-testing).
step_manual() {
    [ "${SETUP_SKIP_BUILD:-0}" = 1 ] && return
    [ "$MODE" = test ] && return
    local page="$REPO_ROOT/.build/plugins/GenerateManual/outputs/studio/studio.1" dest=/usr/local/share/man/man1/studio.1
    log "swift package generate-manual"
    if ! (cd "$REPO_ROOT" && swift package --manifest-cache none generate-manual >&2) || [ ! -s "$page" ]; then
        log "warning: the man page could not be generated (studio --help has the same text)"; return
    fi
    if cmp -s "$page" "$dest"; then log "$dest (present)"; return; fi
    if [ "${AS_ROOT[0]:-}" != __no_root__ ] && as_root install -D -m 0644 "$page" "$dest" 2>/dev/null; then log "installed $dest (man studio)"
    else log "warning: could not install $dest (no root): man -l $page"; fi
}

# ============================================================================= MAIN JOB (mode: run)
# The project's main job, run by `scripts/setup.sh run` after the build. Its output goes to
# stdout; everything else this script prints goes to stderr. Adjust here.
main_job() {
    # The main job on the embedded defaults: describe faces, compare, then register a character from
    # reference photos and verify other photos against it (tenant "demo", replaced on every run).
    # Expected verdicts: same person -> exit 0, different people -> exit 1.
    local studio="$REPO_ROOT/.build/release/studio"
    local fr="$TESTDATA_DIR/face_recognition"
    [ -x "$studio" ] || die "$studio not built"
    log "studio models"
    "$studio" models
    log "studio faces obama.jpg biden.jpg"
    "$studio" faces "$fr/obama.jpg" "$fr/biden.jpg"
    log "studio compare obama.jpg obama2.jpg (same person expected)"
    "$studio" compare "$fr/obama.jpg" "$fr/obama2.jpg"
    log "studio compare obama.jpg biden.jpg (different people expected)"
    local status=0
    "$studio" compare "$fr/obama.jpg" "$fr/biden.jpg" || status=$?
    [ "$status" = 1 ] || die "compare obama.jpg biden.jpg: expected exit 1 (different people), got $status"
    "$studio" character rm obama --tenant demo >/dev/null 2>&1 || true
    log "studio character add obama --ref obama.jpg --ref obama2.jpg --tenant demo"
    "$studio" character add obama --ref "$fr/obama.jpg" --ref "$fr/obama2.jpg" --tenant demo
    mkdir -p "$STUDIO_HOME/runs"
    log "studio verify --character obama obama3.jpg obama_partial_face2.jpg (pass expected)"
    "$studio" verify --character obama --tenant demo --sheet "$STUDIO_HOME/runs/demo-verify-pass.png" \
        "$fr/obama3.jpg" "$fr/obama_partial_face2.jpg"
    log "studio verify --character obama biden.jpg (fail expected)"
    status=0
    "$studio" verify --character obama --tenant demo --sheet "$STUDIO_HOME/runs/demo-verify-fail.png" "$fr/biden.jpg" || status=$?
    [ "$status" = 1 ] || die "verify biden.jpg against obama: expected exit 1 (fail), got $status"
    log "contact sheets: $STUDIO_HOME/runs/demo-verify-pass.png, $STUDIO_HOME/runs/demo-verify-fail.png"
    # Local generation: a fictional character drawn from the generator, then shots verified against it
    # (the first gen in a fresh home measures the generated-face threshold, ~15 s, and saves it).
    "$studio" character rm ada --tenant demo >/dev/null 2>&1 || true
    log "studio character create ada --seed 1 --tenant demo"
    "$studio" character create ada --seed 1 --tenant demo
    local run="$STUDIO_HOME/runs/demo-gen"
    rm -rf "$run" "$run.partial"
    log "studio gen --backend local --character ada --prompt 'head turned left, warmer tones' --count 3 --seed 5 (pass expected)"
    "$studio" gen --backend local --character ada --tenant demo --prompt "head turned left, warmer tones" \
        --count 3 --seed 5 --out "$run"
    log "run folder: $run (report.json, contact-sheet.png, scores.png)"
    # The real-photo character cannot be drawn by the small generator: exit 1 with the best distance.
    run="$STUDIO_HOME/runs/demo-gen-obama"
    rm -rf "$run" "$run.partial"
    log "studio gen --backend local --character obama --max-attempts 1 (fail expected: the generator cannot reach a real face)"
    status=0
    "$studio" gen --backend local --character obama --tenant demo --prompt "portrait" --seed 1 --max-attempts 1 --out "$run" || status=$?
    [ "$status" = 1 ] || die "gen for the real-photo character: expected exit 1 (not reachable), got $status"
}

step_run() {
    step_begin run
    if [ "${SETUP_SKIP_BUILD:-0}" = 1 ]; then step_end "skipped (SETUP_SKIP_BUILD=1)"; return; fi
    main_job
    step_end "ok"
}

step_test() {
    step_begin test
    if [ "${SETUP_SKIP_BUILD:-0}" = 1 ]; then step_end "skipped (SETUP_SKIP_BUILD=1)"; return; fi
    log "swift test ${SWIFT_FLAGS[*]} --skip-build"
    (cd "$REPO_ROOT" && swift test "${SWIFT_FLAGS[@]}" --skip-build)
    step_end "ok"
}

# A fresh `new-adapter` scaffold must build, pass its test and `studio adapters check` unchanged
# (scripts/check-scaffold.sh, in a copy of the package). Checked with the studio the test step used.
# The copy cannot share .build (SwiftPM keys builds on absolute source paths: a copy elsewhere would
# rebuild everything there and make the next build here rebuild everything too), so it keeps its own
# copy and build in .build-scaffold: a full build the first time, incremental after that.
step_scaffold() {
    step_begin scaffold
    if [ "${SETUP_SKIP_BUILD:-0}" = 1 ]; then step_end "skipped (SETUP_SKIP_BUILD=1)"; return; fi
    log "scripts/check-scaffold.sh --studio $REPO_ROOT/.build/release/studio --cache $REPO_ROOT/.build-scaffold"
    "$REPO_ROOT/scripts/check-scaffold.sh" --studio "$REPO_ROOT/.build/release/studio" --cache "$REPO_ROOT/.build-scaffold" >&2
    step_end "ok, a fresh adapter scaffold builds, passes its test and studio adapters check"
}

# ----------------------------------------------------------------------------- main
log "mode: $MODE$([ "$OFFLINE" = 1 ] && echo ' (offline)'); repo: $REPO_ROOT; STUDIO_HOME: $STUDIO_HOME"
step_apt
step_models
step_generator
step_testdata
step_build
step_link
step_manual
case "$MODE" in
    run)  step_run ;;
    test) step_test; step_scaffold ;;
esac
