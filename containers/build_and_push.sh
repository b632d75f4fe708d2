#!/usr/bin/env bash
# Build foldline's three step images and push them to ECR under ONE tag.
#
#   containers/build_and_push.sh              build, push, print the image URIs
#   containers/build_and_push.sh --no-push    build only
#   containers/build_and_push.sh --print-uris print the URIs the stack should take, do nothing
#
# The images are built by containers/build_local.sh (the same recipe as local builds:
# a staged context, the legacy or BuildKit builder alike), tagged both IMAGE:TAG and
# <registry>/IMAGE:TAG. Works with a local Docker or in AWS CodeBuild (privileged mode).
#
# Environment: AWS_REGION (else the AWS CLI's configured region), AWS_ACCOUNT_ID (else
# sts get-caller-identity), FOLDLINE_IMAGE_TAG (else `git describe --tags --always
# --dirty`, else the VERSION file), FOLDLINE_BASE_IMAGE (the images' BASE_IMAGE, default
# a public Debian image). The last line printed is ready for
#   sam deploy --parameter-overrides $(containers/build_and_push.sh --print-uris)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="push"
case "${1:-}" in
  "") ;;
  --no-push) MODE="build" ;;
  --print-uris) MODE="print" ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "unknown option: $1 (use --no-push, --print-uris or --help)" >&2; exit 64 ;;
esac

tag() {
  if [[ -n "${FOLDLINE_IMAGE_TAG:-}" ]]; then echo "${FOLDLINE_IMAGE_TAG}"; return; fi
  if git -C "${ROOT}" describe --tags --always --dirty 2>/dev/null; then return; fi
  if [[ -f "${ROOT}/VERSION" ]]; then tr -d '[:space:]' < "${ROOT}/VERSION"; return; fi
  echo "cannot choose an image tag: set FOLDLINE_IMAGE_TAG, or run inside the git checkout" >&2
  exit 2
}

TAG="$(tag)"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}"
if [[ -z "${REGION}" ]]; then
  echo "no AWS region: set AWS_REGION" >&2
  exit 2
fi
ACCOUNT="${AWS_ACCOUNT_ID:-$(aws sts get-caller-identity --query Account --output text)}"
REGISTRY="${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com"

# the stack parameter each image fills, in foldline.spec.parameters' step order
IMAGES=(foldline-msa foldline-alphafold foldline-openfold)

uris() {
  echo "MsaImageUri=${REGISTRY}/foldline-msa:${TAG}" \
       "AlphaFoldImageUri=${REGISTRY}/foldline-alphafold:${TAG}" \
       "OpenFoldImageUri=${REGISTRY}/foldline-openfold:${TAG}"
}

if [[ "${MODE}" == "print" ]]; then
  uris
  exit 0
fi

if ! command -v docker >/dev/null 2>&1; then
  cat >&2 <<MSG
docker is not installed or not on PATH: the images cannot be built on this machine.
Build them where Docker runs (a workstation, an EC2 instance, AWS CodeBuild) with
  containers/build_and_push.sh
The local mode (foldline local) needs no images.
MSG
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "docker is installed but its daemon is not reachable (is it running? are you in the docker group?)" >&2
  exit 2
fi

"${ROOT}/containers/build_local.sh" --tag "${TAG}" --registry "${REGISTRY}" "${IMAGES[@]}" >&2

if [[ "${MODE}" == "push" ]]; then
  aws ecr get-login-password --region "${REGION}" \
    | docker login --username AWS --password-stdin "${REGISTRY}"
  for image in "${IMAGES[@]}"; do
    aws ecr describe-repositories --region "${REGION}" --repository-names "${image}" >/dev/null 2>&1 \
      || aws ecr create-repository --region "${REGION}" --repository-name "${image}" \
           --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
    docker push "${REGISTRY}/${image}:${TAG}"
  done
fi
uris
