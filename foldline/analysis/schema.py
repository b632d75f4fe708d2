"""The JSON Schema of ``metrics.json`` (documented in docs/metrics-schema.md).

Bump ``SCHEMA_VERSION``'s major number when a field is removed or changes meaning, the
minor number when one is added; readers check the major number.
"""

from __future__ import annotations

SCHEMA_VERSION = "1.2"  # 1.1: one-engine reports (comparison null, comparison_skipped, absent_engines)
# 1.2: each engine section's ``weights`` (which weights made the model, from foldline-step.json)

_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}

_PLDDT = {
    "type": "object",
    "required": ["source", "scale", "mean", "min", "max", "bands", "per_residue"],
    "properties": {
        "source": {"type": "string"},
        "scale": {"enum": ["0-100", "0-1"]},
        "mean": _NUM,
        "min": _NUM,
        "max": _NUM,
        "bands": {
            "type": "object",
            "required": ["very_high", "confident", "low", "very_low"],
            "additionalProperties": _NUM,
        },
        "per_residue": {"type": "array", "items": {"type": "number"}},
    },
}

_ENGINE = {
    "type": "object",
    "required": [
        "engine", "engine_version", "engine_source", "weights", "output", "layout", "model_file",
        "model_name", "relaxed", "chains", "n_residues", "plddt", "ptm", "iptm",
        "ranking_confidence", "pae", "result_pickle",
    ],
    "properties": {
        "engine": {"type": "string"},
        "engine_version": _STR,
        "engine_source": {"type": "string"},
        "weights": {
            "type": ["object", "null"],
            "required": ["kind", "name", "source", "files"],
            "properties": {
                "kind": {"enum": ["alphafold", "openfold", "random", "none"]},
                "name": _STR,
                "source": _STR,
                "files": {"type": "array", "items": {"type": "string"}},
            },
        },
        "output": {"type": "string"},
        "layout": {"enum": ["alphafold", "openfold", "file"]},
        "model_file": {"type": "string"},
        "model_name": {"type": "string"},
        "relaxed": {"type": ["boolean", "null"]},
        "chains": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "length", "sequence"],
                "properties": {
                    "name": {"type": "string"},
                    "length": {"type": "integer"},
                    "sequence": {"type": "string"},
                },
            },
        },
        "n_residues": {"type": "integer"},
        "plddt": _PLDDT,
        "ptm": _NUM,
        "iptm": _NUM,
        "ranking_confidence": _NUM,
        "pae": {
            "type": ["object", "null"],
            "required": ["source", "shape", "mean", "max"],
            "properties": {
                "source": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "mean": {"type": "number"},
                "max": {"type": "number"},
            },
        },
        "result_pickle": _STR,
    },
}  # fmt: skip

_SCORES = {
    "type": "object",
    "required": [
        "reference_chains", "mobile_chains", "n_aligned", "tm_score", "normalising_length",
        "d0", "rmsd", "gdt_ts", "gdt_ha", "gdt_shares", "lddt",
    ],
    "properties": {
        "reference_chains": {"type": "array", "items": {"type": "string"}},
        "mobile_chains": {"type": "array", "items": {"type": "string"}},
        "n_aligned": {"type": "integer"},
        "tm_score": {"type": "number", "minimum": 0, "maximum": 1.0001},
        "normalising_length": {"type": "integer"},
        "d0": {"type": "number"},
        "rmsd": {"type": "number", "minimum": 0},
        "gdt_ts": {"type": "number", "minimum": 0, "maximum": 1},
        "gdt_ha": {"type": "number", "minimum": 0, "maximum": 1},
        "gdt_shares": {"type": "object", "additionalProperties": {"type": "number"}},
        "lddt": {"type": "number", "minimum": 0, "maximum": 1},
    },
}  # fmt: skip

_STEP_RUNTIME = {
    "type": "object",
    "properties": {
        "step": _STR,
        "status": _STR,
        "started_at": _STR,
        "ended_at": _STR,
        "seconds": _NUM,
    },
}

_ABSENT = {
    "type": "object",
    "required": ["engine", "engine_version", "status", "output", "reason"],
    "properties": {
        "engine": _STR,
        "engine_version": _STR,
        "status": _STR,
        "output": {"type": "string"},
        "reason": {"type": "string"},
    },
}

METRICS_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "foldline metrics.json",
    "type": "object",
    "required": [
        "schema_version", "created_at", "context", "headline", "engines", "comparison",
        "runtimes", "files", "warnings",
    ],
    "properties": {
        "schema_version": {"type": "string", "pattern": r"^1\.\d+$"},
        "created_at": {"type": "string"},
        "context": {"type": "object"},
        "headline": {"type": "string"},
        "engines": {
            "type": "object",
            "required": ["alphafold", "openfold"],
            "properties": {
                "alphafold": {"oneOf": [_ENGINE, {"type": "null"}]},
                "openfold": {"oneOf": [_ENGINE, {"type": "null"}]},
            },
        },
        "comparison_skipped": _STR,
        "absent_engines": {
            "type": "object",
            "properties": {"alphafold": _ABSENT, "openfold": _ABSENT},
            "additionalProperties": False,
        },
        "comparison": {
            "type": ["object", "null"],
            "required": [
                "method", "reference", "superposed", "relaxation", "models_compared", "pairing",
                "chain_matching", "complex", "per_chain", "tm_align", "tm_score_normalisation",
                "notes",
            ],
            "properties": {
                "method": {"enum": ["fixed_correspondence", "tm_align"]},
                "reference": {"const": "alphafold"},
                "superposed": {"const": "openfold"},
                "relaxation": {"enum": ["relaxed", "unrelaxed", "as found"]},
                "models_compared": {
                    "type": "object",
                    "required": ["alphafold", "openfold"],
                    "additionalProperties": {"type": "string"},
                },
                "pairing": {"type": "string"},
                "chain_matching": {
                    "type": "object",
                    "required": ["method", "pairs", "unmatched"],
                    "properties": {
                        "method": {"type": "string"},
                        "pairs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["alphafold", "openfold", "length"],
                            },
                        },
                        "unmatched": {"type": "object"},
                    },
                },
                "complex": {"oneOf": [_SCORES, {"type": "null"}]},
                "per_chain": {"type": "array", "items": _SCORES},
                "tm_align": {"type": ["object", "null"]},
                "tm_score_normalisation": {"type": "string"},
                "notes": {"type": "array", "items": {"type": "string"}},
            },
        },
        "runtimes": {
            "type": "object",
            "required": ["steps", "engine_timings"],
            "properties": {
                "steps": {"type": "object", "additionalProperties": _STEP_RUNTIME},
                "engine_timings": {"type": "object"},
            },
        },
        "files": {
            "type": "object",
            "required": ["metrics", "report", "plots", "models"],
            "properties": {
                "metrics": {"type": "string"},
                "report": {"type": "string"},
                "plots": {"type": "object", "additionalProperties": {"type": "string"}},
                "models": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
    # no comparison only with a reason, and then a slot without a model; a comparison
    # has both engines and both compared models
    "if": {"properties": {"comparison": {"type": "null"}}},
    "then": {
        "required": ["comparison_skipped", "absent_engines"],
        "properties": {
            "comparison_skipped": {"type": "string"},
            "absent_engines": {"minProperties": 1},
        },
    },
    "else": {
        "properties": {
            "engines": {"properties": {"alphafold": {"type": "object"}, "openfold": {"type": "object"}}},
            "files": {"properties": {"models": {"required": ["alphafold", "openfold"]}}},
        },
    },
}  # fmt: skip
