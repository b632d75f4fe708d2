#!/usr/bin/env bash
# What tests/lambda_build needs beyond the project's .venv: the SAM CLI in its own
# virtualenv (aws-sam-cli pins its own boto3 and click), and the Debian base image that
# the stand-in Lambda runtime image starts from. Idempotent; run from anywhere.
#   usage: tests/lambda_build/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM_CLI_VERSION=1.170.0
if ! .venv-sam/bin/sam --version 2>/dev/null | grep -q "$SAM_CLI_VERSION"; then
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install -q "aws-sam-cli==$SAM_CLI_VERSION"
fi
# Docker's daemon and the base image (the shared tool installs docker.io and starts
# dockerd where they are missing).
bash ../shared/tools/local-base-image.sh foldline-base/debian:bookworm bookworm
