# Build targets that `sam build` calls (template.yaml resources with BuildMethod: makefile).
# samconfig.toml sets build_in_source, so this runs in the repository root.

# The foldline package alone, as a layer (python/foldline/). Its third-party libraries
# come from each function's own requirements.txt, so the layer stays small.
build-FoldlineLayer:
	python3 -m pip install --no-deps --no-compile --target "$(ARTIFACTS_DIR)/python" .
