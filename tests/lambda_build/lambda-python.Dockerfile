# A stand-in for AWS's Lambda base image public.ecr.aws/lambda/python:3.12, for machines
# that reach no container registry: CPython 3.12 in /var/lang, the runtime's boto3 in
# /var/lang/lib/python3.12/site-packages, LAMBDA_TASK_ROOT=/var/task, on Debian (glibc
# 2.36; Amazon Linux 2023 has 2.34: test_lambda_build.py checks every shared object's
# glibc needs separately). It runs handlers directly (no runtime interface client).
#
# Build context (made by tests/lambda_build/harness.py): lang/ = a CPython 3.12 installation
# (bin/, lib/libpython3.12.so*, lib/python3.12 without site-packages) with the runtime's
# SDK (runtime-requirements.txt) installed into lib/python3.12/site-packages.
ARG BASE_IMAGE=foldline-base/debian:bookworm
FROM ${BASE_IMAGE}

# The shared libraries CPython's own extension modules link against: Debian's current
# ones, security updates included (no version pins).
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libuuid1 libreadline8 \
        libncursesw6 libexpat1 libnsl2 libcrypt1 \
    && rm -rf /var/lib/apt/lists/*

COPY lang/ /var/lang/
# pip, as AWS's base image has it (functions/analysis/Dockerfile installs with it)
RUN echo /var/lang/lib > /etc/ld.so.conf.d/var-lang.conf && ldconfig \
    && ln -sf python3.12 /var/lang/bin/python3 \
    && /var/lang/bin/python3.12 -m ensurepip --default-pip >/dev/null

ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=en_US.UTF-8 TZ=:/etc/localtime \
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
