"""``foldline-step.json``: what a step ran, with what, and what it left.

One file per step, next to its outputs in SM_MODEL_DIR (so it travels in model.tar.gz).
The analysis and the report read ``engine`` to name the engine that really made a model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foldline.spec.formats import utc_now
from foldline.spec.layout import STEP_MANIFEST

#: engines a manifest may name; "template-cpu" is the CPU stand-in, never "alphafold"
ENGINES = ("alphafold", "openfold", "pyhmmer", "mmseqs2", "template-cpu", "cache")


@dataclass
class StepManifest:
    """The record of one step's run. ``status`` is succeeded, failed or skipped."""

    step: str
    engine: str
    engine_version: str
    parameters: dict[str, Any]
    command: list[str] | None = None  # the exact argv of the external tool
    call: str | None = None  # an in-process engine's function, when there is no argv
    started_at: str = field(default_factory=utc_now)
    ended_at: str | None = None
    exit_status: int | None = None
    status: str = "running"
    outputs: dict[str, Any] = field(default_factory=dict)  # name -> path(s) under SM_MODEL_DIR
    #: the model weights an inference step ran with (None for steps without weights):
    #: {"kind": "alphafold" | "openfold" | "random" | "none", "name": what people read
    #: ("AlphaFold 2.3 params model_1..5"), "source": where they were read from (a path
    #: or S3 URI), "files": [file names]}. The report and notices show it.
    weights: dict[str, Any] | None = None
    #: the CPU stand-in's model (template, identity, coverage, low_coverage, no_template,
    #: templates_rejected); None for real engines
    stand_in: dict[str, Any] | None = None
    #: the MSA step's: which engine made the MSAs (a cache hit names the search that made
    #: them) and over which databases: {"engine", "engine_version", "db_preset",
    #: "databases": [names], "reused_from": run id or None}. The report and notices show it.
    msa_source: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    failure: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; one of {ENGINES}")

    def finish(self, exit_status: int, *, status: str | None = None) -> None:
        self.ended_at = utc_now()
        self.exit_status = exit_status
        self.status = status or ("succeeded" if exit_status == 0 else "failed")

    def write(self, model_dir: Path) -> Path:
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_dir / STEP_MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def read_manifest(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / STEP_MANIFEST).read_text())


def relative_outputs(model_dir: Path, paths: list[Path]) -> list[str]:
    """Paths relative to the model dir, sorted, as the manifest lists them."""
    return sorted(str(p.relative_to(model_dir)) for p in paths)
