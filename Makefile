# Build targets that `sam build` calls (template.yaml resources with BuildMethod: makefile).
# samconfig.toml sets build_in_source, so this runs in the repository root.

# The foldline package alone, as a layer (python/foldline/). Its third-party libraries
# come from each function's own requirements.txt, so the layer stays small.
# Then compile it: Lambda's /opt is read-only, so a layer without .pyc makes every cold
# start compile foldline again. unchecked-hash: the .pyc is used as shipped; a zip keeps
# mtimes at 2-second resolution, which could make timestamp-checked .pyc look stale.
build-FoldlineLayer:
	python3 -m pip install --no-deps --no-compile --target "$(ARTIFACTS_DIR)/python" .
	python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python"
