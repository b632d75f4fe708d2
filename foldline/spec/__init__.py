"""1. The facts, defined once and importing nothing: the pipeline's name, steps and run
parameters (:mod:`.parameters`), the S3 layout and artefact names (:mod:`.layout`), status
names (:mod:`.statuses`), how times, numbers and S3's "not found" are written
(:mod:`.formats`). Everything else reads them from here; import-linter keeps this folder
free of any other import (pyproject.toml).
"""
