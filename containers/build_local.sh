#!/usr/bin/env bash
# Build foldline's step images with the Docker on this machine (or in CodeBuild).
#
#   containers/build_local.sh [options] [IMAGE ...]
#
# IMAGE: foldline-msa, foldline-alphafold, foldline-openfold (foldline.spec.parameters
# Step.image; default: all three). Each is tagged IMAGE:TAG (TAG default "local",
# foldline.spec.parameters.LOCAL_IMAGE_TAG: what `foldline local run --containers` and the
# image tests run).
#
# Options:
#   --cpu              the AlphaFold image without CUDA (build argument CUDA=none):
#                      smaller and quicker, runs on the CPU only; for foldline-openfold
#                      (no PyTorch) only with --openfold-deps
#   --openfold-deps    foldline-openfold up to its openfold-deps target: everything but
#                      OpenFold itself, whose source (GitHub) and CUDA compiler (NVIDIA's
#                      apt repository) this machine may not reach; its step then fails
#                      plainly ("OpenFold is not installed")
#   --tag TAG          tag to build (default: local)
#   --registry PREFIX  also tag PREFIX/IMAGE:TAG (e.g. <acct>.dkr.ecr.<region>.amazonaws.com)
#   --base IMAGE       the BASE_IMAGE build argument (default: $FOLDLINE_BASE_IMAGE, else
#                      each Dockerfile's own default, a public Debian image)
#   --no-cache         build every layer again (docker build --no-cache)
#   -h, --help
#
# The build context is a staged folder holding only pyproject.toml, README.md, foldline/
# and containers/ (no .dockerignore needed: the legacy builder, without BuildKit, reads
# only the context root's). Docker's layer cache makes a repeated build take seconds.
# Prints one line per image built: IMAGE:TAG.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="local"
REGISTRY=""
BASE="${FOLDLINE_BASE_IMAGE:-}"
CUDA="12"
OPENFOLD_TARGET="openfold"
NO_CACHE=()
IMAGES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) CUDA="none" ;;
    --openfold-deps) OPENFOLD_TARGET="openfold-deps" ;;
    --tag) TAG="${2:?--tag needs a value}"; shift ;;
    --registry) REGISTRY="${2:?--registry needs a value}"; shift ;;
    --base) BASE="${2:?--base needs a value}"; shift ;;
    --no-cache) NO_CACHE=(--no-cache) ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
    *) IMAGES+=("$1") ;;
  esac
  shift
done

# image -> Dockerfile (under containers/) and build target; the names are
# foldline.spec.parameters' Step.image values (tests/infra/test_containers.py checks)
declare -A DOCKERFILE=([foldline-msa]=alphafold/Dockerfile
                       [foldline-alphafold]=alphafold/Dockerfile
                       [foldline-openfold]=openfold/Dockerfile)
declare -A TARGET=([foldline-msa]=msa [foldline-alphafold]=alphafold [foldline-openfold]=openfold)
ALL_IMAGES=(foldline-msa foldline-alphafold foldline-openfold)
if [[ ${#IMAGES[@]} -eq 0 ]]; then IMAGES=("${ALL_IMAGES[@]}"); fi
for image in "${IMAGES[@]}"; do
  if [[ -z "${DOCKERFILE[${image}]:-}" ]]; then
    echo "unknown image ${image}: one of ${ALL_IMAGES[*]}" >&2
    exit 64
  fi
  if [[ "${image}" == "foldline-openfold" && "${CUDA}" == "none" && "${OPENFOLD_TARGET}" == "openfold" ]]; then
    echo "OpenFold's kernel needs PyTorch's CUDA build: foldline-openfold with --cpu needs --openfold-deps" >&2
    exit 64
  fi
done

if ! command -v docker >/dev/null 2>&1; then
  cat >&2 <<MSG
docker is not installed or not on PATH: the images cannot be built on this machine.
Build them where Docker runs (a workstation, an EC2 instance, AWS CodeBuild).
The local mode (foldline local) needs no images.
MSG
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "docker is installed but its daemon is not reachable (is it running? are you in the docker group?)" >&2
  exit 2
fi

CONTEXT="$(mktemp -d "${TMPDIR:-/tmp}/foldline-build.XXXXXX")"
trap 'rm -rf "${CONTEXT}"' EXIT
cp "${ROOT}/pyproject.toml" "${ROOT}/README.md" "${CONTEXT}/"
tar -C "${ROOT}" --exclude=__pycache__ --exclude='*.pyc' -cf - foldline containers \
  | tar -C "${CONTEXT}" -xf -

for image in "${IMAGES[@]}"; do
  target="${TARGET[${image}]}"
  [[ "${image}" == "foldline-openfold" ]] && target="${OPENFOLD_TARGET}"
  args=("${NO_CACHE[@]}" --target "${target}" -f "${CONTEXT}/containers/${DOCKERFILE[${image}]}"
        -t "${image}:${TAG}")
  [[ -n "${REGISTRY}" ]] && args+=(-t "${REGISTRY}/${image}:${TAG}")
  [[ -n "${BASE}" ]] && args+=(--build-arg "BASE_IMAGE=${BASE}")
  [[ "${image}" == "foldline-alphafold" || "${image}" == "foldline-openfold" ]] \
    && args+=(--build-arg "CUDA=${CUDA}")
  echo "building ${image}:${TAG} (containers/${DOCKERFILE[${image}]}, target ${target})" >&2
  DOCKER_BUILDKIT=0 docker build "${args[@]}" "${CONTEXT}" >&2
  echo "${image}:${TAG}"
done
