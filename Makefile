# Build targets that `sam build` calls (template.yaml resources with BuildMethod: makefile).
# samconfig.toml sets build_in_source, so each target runs in its resource's own folder:
# the repository root for FoldlineLayer (ContentUri: .), functions/<name>/ for a function
# (CodeUri; Metadata ContextPath: . points sam at this Makefile).
#
# Everything is installed for the Lambda platform (CPython 3.12, Amazon Linux 2023,
# x86_64) by functions/pip-for-lambda.sh, whatever Python and glibc this machine has.

ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
PIP_FOR_LAMBDA := $(ROOT)functions/pip-for-lambda.sh

# The foldline package alone, as a layer (python/foldline/). Its third-party libraries
# come from each function's own requirements.txt, so the layer stays small. foldline is
# pure Python (a py3-none-any wheel): no platform to choose.
build-FoldlineLayer:
	python3 -m pip install --quiet --no-deps --no-compile --target "$(ARTIFACTS_DIR)/python" .
	rm -rf "$(ARTIFACTS_DIR)/python/bin"  # the foldline command: not for Lambda
	# nor its modules and the local emulator (the functions import neither; import-linter
	# keeps it so): foldline/cli/ and foldline/local/ stay out of the layer
	rm -rf "$(ARTIFACTS_DIR)/python/foldline/cli" "$(ARTIFACTS_DIR)/python/foldline/local"
	$(PIP_FOR_LAMBDA) compile "$(ARTIFACTS_DIR)/python"

# A zip function: its locked requirements for the platform, its handler module, bytecode.
build-StartPipelineFunction build-NotifyFunction build-ProgressFunction:
	$(PIP_FOR_LAMBDA) install "$(ARTIFACTS_DIR)" requirements.txt
	cp app.py "$(ARTIFACTS_DIR)/"
	$(PIP_FOR_LAMBDA) compile "$(ARTIFACTS_DIR)"

.PHONY: build-FoldlineLayer build-StartPipelineFunction build-NotifyFunction build-ProgressFunction
