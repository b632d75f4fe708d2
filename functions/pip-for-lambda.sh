#!/usr/bin/env bash
# The Lambda platform, defined once: CPython 3.12 on Amazon Linux 2023 (glibc 2.34), x86_64.
# The Makefile (zip functions, FoldlineLayer) and functions/analysis/Dockerfile (the image)
# both install through this script, so every build resolves for that platform, never for
# the machine that runs it (this one may have another Python and a newer glibc).
#
#   pip-for-lambda.sh install TARGET REQUIREMENTS   wheels for the platform into TARGET
#   pip-for-lambda.sh compile DIR                   .pyc for Python 3.12 (see below)
#   pip-for-lambda.sh python-version | glibc        print the platform's facts
#   pip-for-lambda.sh runtime-python                the Python 3.12 that compile uses
#
# REQUIREMENTS is a complete lock: every package pinned, transitive ones included, and
# installed with --no-deps, so nothing is resolved at build time (tests/lambda_build checks that
# each build's dependencies are closed, with the runtime's own boto3).
set -euo pipefail

PYTHON_VERSION=3.12  # template.yaml Runtime: python3.12 (tests/lambda_build/test_lambda_build.py)
GLIBC_MINOR=34       # Amazon Linux 2023 ships glibc 2.34
# pip runs wherever the build runs; it need not be Python 3.12
PIP=${PIP:-python3 -m pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# compileall must run under the runtime's version (.pyc of another version are ignored):
# LAMBDA_PYTHON if set, else python3.12 on PATH, else a pyenv-installed 3.12.
runtime_python() {
  local candidate
  for candidate in ${LAMBDA_PYTHON:-} "python$PYTHON_VERSION" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PYTHON_VERSION".*/bin/"python$PYTHON_VERSION"; do
    if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
        = "$PYTHON_VERSION" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

case "${1:-}" in
  install)
    [ $# -eq 3 ] || { echo "usage: $0 install TARGET REQUIREMENTS" >&2; exit 2; }
    # pip does not widen manylinux_2_X to older glibc minors by itself: name each one
    # (2_34 down to 2_17, then manylinux2014, which pip widens to manylinux2010/1).
    platforms=()
    for minor in $(seq "$GLIBC_MINOR" -1 17); do
      platforms+=(--platform "manylinux_2_${minor}_x86_64")
    done
    platforms+=(--platform manylinux2014_x86_64)
    # --no-compile: pip would write .pyc for its own interpreter, useless on 3.12
    $PIP install --quiet --root-user-action=ignore --no-deps --only-binary=:all: --no-compile \
      --implementation cp --python-version "$PYTHON_VERSION" "${platforms[@]}" \
      --target "$2" --requirement "$3"
    # console scripts: their #! names the build machine's Python, and Lambda runs none
    rm -rf "$2/bin"
    ;;
  compile)
    [ $# -eq 2 ] || { echo "usage: $0 compile DIR" >&2; exit 2; }
    # Lambda's /var/task and /opt are read-only: without shipped .pyc every cold start
    # compiles what it imports again. unchecked-hash: a zip keeps mtimes at 2-second
    # resolution, which could make timestamp-checked .pyc look stale.
    if ! python=$(runtime_python); then
      if [ -n "${REQUIRE_COMPILE:-}" ]; then
        echo "$0: no Python $PYTHON_VERSION found (set LAMBDA_PYTHON)" >&2
        exit 1
      fi
      echo "note: no Python $PYTHON_VERSION found (set LAMBDA_PYTHON): $2 ships without .pyc" >&2
      exit 0
    fi
    "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$2" >/dev/null
    ;;
  python-version) echo "$PYTHON_VERSION" ;;
  runtime-python) runtime_python ;;
  glibc) echo "2.$GLIBC_MINOR" ;;
  *)
    echo "usage: $0 install TARGET REQUIREMENTS | compile DIR | python-version | glibc | runtime-python" >&2
    exit 2
    ;;
esac
