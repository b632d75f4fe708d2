#!/usr/bin/env bash
# Get a fresh machine ready for tests/containers (CI runs this before pytest):
#   1. Docker (Debian's docker.io) with its daemon running, and the Debian base image the
#      step images build on: no container registry is reachable here, so it is made from
#      Debian's own mirror by ../shared/tools/local-base-image.sh (idempotent, ~35 s);
#   2. the MSA and AlphaFold images, CPU variant, tagged <Step.image>:local, and the OpenFold
#      image's openfold-deps stage (CPU, :local-deps), so that the test sessions' own builds
#      (same commands) are cache hits.
# Usage: tests/containers/prepare.sh            (SHARED=<path to shared/> to override)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHARED="${SHARED:-${ROOT}/../shared}"
BASE="${FOLDLINE_BASE_IMAGE:-foldline-base/debian:bookworm}"
bash "${SHARED}/tools/local-base-image.sh" "${BASE}" bookworm >/dev/null
"${ROOT}/containers/build_local.sh" --cpu --base "${BASE}" foldline-msa foldline-alphafold
"${ROOT}/containers/build_local.sh" --cpu --openfold-deps --tag local-deps --base "${BASE}" \
  foldline-openfold
