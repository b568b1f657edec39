#!/usr/bin/env bash
# scripts/check-scaffold.sh — prove that a fresh `new-adapter` scaffold works unchanged.
#
#   scripts/check-scaffold.sh [--studio PATH] [--cache DIR]
#
# In a COPY of the package (never the real tree) it runs
#   swift package --allow-writing-to-package-directory new-adapter --name scaffold-probe
# checks that the plugin wrote nothing outside adapters/scaffold-probe/, then builds the product
# ScaffoldProbeAdapter (release), builds the tests and runs ScaffoldProbeAdapterTests, and runs
# `studio adapters check` (in and out of process) on libScaffoldProbeAdapter.so: every one must pass.
#
#   --studio PATH  the studio executable for `adapters check` (env STUDIO_BIN); default: the one the
#                  copy's build makes. Only JSON crosses the adapter ABI, so any build of studio will do.
#   --cache DIR    keep the copy and its build in DIR (env SCAFFOLD_CHECK_CACHE) so that the next run is
#                  incremental; default: a fresh temporary directory, removed at the end (a full build).
#                  Inside the checkout DIR must be git-ignored (scripts/setup.sh test: .build-scaffold).
#
# Why not the package's own .build as the scratch path: SwiftPM keys its build on the sources' absolute
# paths, so a copy elsewhere recompiles every target even in a warm scratch directory, and then the real
# tree recompiles everything after it (tried: the two ping-pong). A persistent copy at a fixed place,
# refreshed file by file (unchanged files keep their inode and mtime), with its own scratch directory,
# is what makes later runs incremental. Unchanged sources in the cache are not touched; the probe
# adapter is removed from the copy when the check ends.
#
# Exit status: 0 all passed; 1 a step failed (the message says which); 2 bad usage.
set -euo pipefail

NAME=scaffold-probe
MODULE=ScaffoldProbeAdapter   # Package.swift's name for adapters/scaffold-probe
TYPE=ScaffoldProbe

log()  { printf 'check-scaffold: %s\n' "$*" >&2; }
fail() { printf 'check-scaffold: FAILED: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

STUDIO=${STUDIO_BIN:-}
CACHE=${SCAFFOLD_CHECK_CACHE:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --studio) [ $# -ge 2 ] || { usage >&2; exit 2; }; STUDIO=$2; shift 2 ;;
        --cache)  [ $# -ge 2 ] || { usage >&2; exit 2; }; CACHE=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'check-scaffold: unknown argument: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
command -v swift >/dev/null 2>&1 || fail "swift not found on PATH"
command -v git >/dev/null 2>&1 || fail "git not found on PATH (the copy is made from git ls-files)"
git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1 || fail "$REPO_ROOT is not a git checkout"
[ ! -e "$REPO_ROOT/adapters/$NAME" ] || fail "$REPO_ROOT/adapters/$NAME exists in the real tree; the probe's name must be free"
if [ -n "$STUDIO" ]; then
    [ -x "$STUDIO" ] || fail "--studio $STUDIO is not an executable"
    STUDIO=$(cd "$(dirname "$STUDIO")" && pwd)/$(basename "$STUDIO")
fi

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
T_START=$(now)
STEP=""; STEP_T0=""
step() { STEP=$1; STEP_T0=$(now); log "== $1"; }
done_() { log "   $STEP: ${1:-ok} ($(elapsed "$STEP_T0"))"; STEP=""; }

# ----------------------------------------------------------------------------- where
if [ -n "$CACHE" ]; then
    WORK=$(realpath -m -- "$CACHE")   # not created before the checks below
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/studio-scaffold.XXXXXX")
fi
# The copy keeps the package directory's name: the root package's identity comes from it.
PKG=$WORK/package/$(basename "$REPO_ROOT")
SCRATCH=$WORK/scratch
MARKER=$WORK/plugin-started
# The copy may sit inside the checkout only in a git-ignored place (setup.sh uses .build-scaffold, beside
# the other build directories), where neither git nor the real package's manifest looks.
case "$REPO_ROOT/" in "$PKG"/*) fail "the copy $PKG would contain the real tree" ;; esac
case "$PKG/" in
    "$REPO_ROOT"/*) git -C "$REPO_ROOT" check-ignore -q "$PKG/" || fail "the copy $PKG is inside the real tree and not git-ignored" ;;
esac

on_exit() {
    local rc=$?
    set +e
    if [ -n "$CACHE" ]; then rm -rf -- "$PKG/adapters/$NAME" "$MARKER"; else rm -rf -- "$WORK"; fi
    if [ -n "$STEP" ]; then log "   $STEP: FAILED ($(elapsed "$STEP_T0"))"; fi
    if [ "$rc" -eq 0 ]; then log "all passed in $(elapsed "$T_START")"; else log "FAILED (exit $rc) after $(elapsed "$T_START")"; fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------------------- copy
step copy
mkdir -p "$WORK" "$PKG" "$SCRATCH"
LIST=$WORK/files.txt
# Tracked files plus untracked ones git does not ignore (so a local run checks the work in progress),
# and Package.resolved (ignored here, but it pins the dependencies the real build uses).
(cd "$REPO_ROOT" && git ls-files --cached --others --exclude-standard && { [ -f Package.resolved ] && echo Package.resolved || true; }) \
    | while IFS= read -r f; do [ -f "$REPO_ROOT/$f" ] && printf '%s\n' "$f"; done | LC_ALL=C sort -u >"$LIST"
copied=0
while IFS= read -r f; do
    if ! cmp -s -- "$REPO_ROOT/$f" "$PKG/$f" 2>/dev/null; then
        mkdir -p -- "$PKG/$(dirname -- "$f")"
        cp -p -- "$REPO_ROOT/$f" "$PKG/$f"
        copied=$((copied + 1))
    fi
done <"$LIST"
# Files the real tree no longer has (and a probe left behind by an interrupted run) go.
removed=0
while IFS= read -r f; do
    rm -f -- "$PKG/$f"; removed=$((removed + 1))
done < <(cd "$PKG" && find . -type f -printf '%P\n' | LC_ALL=C sort | LC_ALL=C comm -23 - "$LIST")
find "$PKG" -mindepth 1 -type d -empty -delete
done_ "$(wc -l <"$LIST") files in $PKG ($copied copied, $removed removed)"

# --manifest-cache none: Package.swift finds adapters by listing adapters/, but SwiftPM caches the
# evaluated manifest keyed on Package.swift's text (~/.cache/org.swift.swiftpm/manifests), so a cached
# evaluation from before the scaffold existed answers "no product named ScaffoldProbeAdapter".
SWIFT_FLAGS=(-c release -Xswiftc -enable-testing --package-path "$PKG" --scratch-path "$SCRATCH" --manifest-cache none)

# ----------------------------------------------------------------------------- scaffold
step scaffold
touch "$MARKER"
sleep 1   # mtime granularity: anything the plugin writes is strictly newer than the marker
before=$(cd "$PKG" && find . -path "./adapters/$NAME" -prune -o -print | LC_ALL=C sort | md5sum)
swift package --package-path "$PKG" --scratch-path "$SCRATCH" --manifest-cache none --allow-writing-to-package-directory \
    new-adapter --name "$NAME" >&2 || fail "the new-adapter plugin failed"
after=$(cd "$PKG" && find . -path "./adapters/$NAME" -prune -o -print | LC_ALL=C sort | md5sum)
outside=$(cd "$PKG" && find . -path "./adapters/$NAME" -prune -o -type f -newer "$MARKER" -print)
[ "$before" = "$after" ] && [ -z "$outside" ] || fail "the plugin changed files outside adapters/$NAME: ${outside:-(files added or removed)}"
for f in "$TYPE.swift" README.md "Tests/${TYPE}GoldenRequestTests.swift"; do
    [ -s "$PKG/adapters/$NAME/$f" ] || fail "the scaffold lacks adapters/$NAME/$f"
done
done_ "adapters/$NAME: $(cd "$PKG/adapters/$NAME" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')"

# ----------------------------------------------------------------------------- build
step "build $MODULE"
swift build "${SWIFT_FLAGS[@]}" --product "$MODULE" >&2 || fail "swift build --product $MODULE failed on the fresh scaffold"
BIN=$(swift build "${SWIFT_FLAGS[@]}" --show-bin-path)
SO=$BIN/lib$MODULE.so
[ -f "$SO" ] || fail "$SO was not built"
done_ "$SO"

step "build tests"
swift build "${SWIFT_FLAGS[@]}" --build-tests >&2 || fail "swift build --build-tests failed with the fresh scaffold"
done_

step "test ${MODULE}Tests"
out=$WORK/test-output.txt
status=0
swift test "${SWIFT_FLAGS[@]}" --skip-build --filter "${MODULE}Tests" >"$out" 2>&1 || status=$?
cat "$out" >&2
[ "$status" = 0 ] || fail "swift test --filter ${MODULE}Tests failed (exit $status)"
# A filter that matches nothing passes too: make sure the scaffold's tests actually ran.
executed=$(grep -Eo 'Executed [0-9]+ tests?' "$out" | tail -n 1 | grep -Eo '[0-9]+' || true)
[ "${executed:-0}" -gt 0 ] || fail "no test of ${MODULE}Tests ran"
done_ "$executed tests passed"

# ----------------------------------------------------------------------------- conformance
step "adapters check"
[ -n "$STUDIO" ] || STUDIO=$BIN/studio
[ -x "$STUDIO" ] || fail "no studio executable at $STUDIO"
"$STUDIO" adapters check "$SO" >&2 || fail "studio adapters check $SO failed (exit $?)"
"$STUDIO" adapters check --out-of-process "$SO" >&2 || fail "studio adapters check --out-of-process $SO failed (exit $?)"
done_ "in process and out of process, with $STUDIO"
