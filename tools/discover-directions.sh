#!/usr/bin/env bash
# Rediscovers the local generator's latent directions and rewrites the committed table.
#
#   tools/discover-directions.sh [SAMPLES] [FIRST_SEED]      (defaults: 1000 seeds from seed 0)
#
# Reads   $STUDIO_HOME/models (default ~/.studio/models): the generator weights
#         (gan_face_generate_weights.tar) and the three face models; scripts/setup.sh installs them.
# Builds  studio (release, in SCRATCH, default .build; extra `swift build` arguments in
#         SWIFT_BUILD_FLAGS, e.g. "-Xswiftc -enable-testing" to share a test build's products).
# Runs    studio local directions --samples SAMPLES --first-seed FIRST_SEED
#                                 --write Sources/StudioLocal/LatentDirectionsData.swift
#         which renders the seeds, measures each detected face (GeneratedMeasures), fits one
#         direction per measure on the even-numbered faces and scores it on the odd-numbered ones
#         (LatentDirections.discover), prints the table and writes it as Swift source (the header
#         records the weights' SHA-256, the seeds and this command).
# Takes   about 1 to 2 minutes for 1000 seeds on 2 cores (MMOD at 256 px dominates).
#
# The result is deterministic for given weights, seeds and thread count; OpenBLAS' thread count
# can move MMOD scores in the last digits, so THREADS (default 1) is passed as --threads.
# Rebuild afterwards so the new table is compiled in.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
samples="${1:-1000}"
first_seed="${2:-0}"
scratch="${SCRATCH:-.build}"
read -r -a flags <<< "${SWIFT_BUILD_FLAGS:-}"
threads="${THREADS:-1}"
out="Sources/StudioLocal/LatentDirectionsData.swift"

cd "$repo"
swift build -c release --scratch-path "$scratch" ${flags[@]+"${flags[@]}"} --product studio
bin="$(swift build -c release --scratch-path "$scratch" ${flags[@]+"${flags[@]}"} --show-bin-path)/studio"
"$bin" local directions --samples "$samples" --first-seed "$first_seed" --threads "$threads" --write "$out"
