"""The JSON Schema of ``metrics.json`` (documented in docs/metrics-schema.md).

Bump ``SCHEMA_VERSION``'s major number when a field is removed or changes meaning, the
minor number when one is added; readers check the major number.
"""

from __future__ import annotations

SCHEMA_VERSION = (
    "2.2"  # 1.1: one-engine reports (comparison null, comparison_skipped, absent_engines)
)
# 1.2: each engine section's ``weights`` (which weights made the model, from foldline-step.json)
# 2.0: one comparison method for every pair (residue correspondence by sequence or structure,
#      chain mapping searched, TM-score always normalised by the reference); ``lddt`` renamed
#      ``ca_lddt``; ``tm_align`` removed; plddt ``kind`` and scale "none"; ``stand_in``;
#      ``engine_agreement``; per chain-pair ``interfaces`` (DockQ) and ``chain_pair_confidence``
# 2.1: ``comparison.per_residue_deviation`` (CA distance after superposition, per residue);
#      ``msa`` (the MSA step's depth per residue, per chain); plots ``per_residue``, ``msa_coverage``;
#      ``chain_pair_confidence`` filled for multimers (pTM per chain, ipTM per chain pair),
#      with ``method`` and ``chains``; ``interfaces`` filled where two or more chains are
#      mapped (DockQ per interface, with CAPRI class, fnonnat, F1, clashes and notes)
# 2.2: ``msa_engine`` (the engine that made the MSAs, its databases, a reuse), from the MSA
#      step's foldline-step.json

_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}

_PLDDT = {
    "type": "object",
    "required": ["source", "kind", "scale", "mean", "min", "max", "bands", "per_residue"],
    "properties": {
        "source": {"type": "string"},
        "kind": {"enum": ["plddt", "template-similarity", "none"]},
        "scale": {"enum": ["0-100", "0-1", "none"]},
        "mean": _NUM,
        "min": _NUM,
        "max": _NUM,
        "bands": {
            "type": "object",
            "required": ["very_high", "confident", "low", "very_low"],
            "additionalProperties": _NUM,
        },
        "per_residue": {"type": "array", "items": {"type": ["number", "null"]}},
    },
}

_ENGINE = {
    "type": "object",
    "required": [
        "engine",
        "engine_version",
        "engine_source",
        "weights",
        "stand_in",
        "output",
        "layout",
        "model_file",
        "model_name",
        "relaxed",
        "chains",
        "n_residues",
        "plddt",
        "ptm",
        "iptm",
        "chain_pair_confidence",
        "ranking_confidence",
        "pae",
        "result_pickle",
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
        "stand_in": {
            "type": ["object", "null"],
            "required": ["template", "identity", "coverage", "low_coverage", "no_template"],
        },
        "chain_pair_confidence": {
            "type": ["object", "null"],
            "required": ["source", "method", "chains", "ptm", "iptm"],
            "properties": {
                "source": {"type": "string"},
                "method": {"type": "string"},
                "chains": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "length"],
                        "properties": {"name": {"type": "string"}, "length": {"type": "integer"}},
                    },
                },
                "ptm": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "iptm": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
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
}

_SCORES = {
    "type": "object",
    "required": [
        "reference_chains",
        "mobile_chains",
        "correspondence",
        "sequence_identity",
        "n_aligned",
        "reference_residues_unaligned",
        "tm_score",
        "normalising_length",
        "d0",
        "rmsd",
        "gdt_ts",
        "gdt_ha",
        "gdt_shares",
        "ca_lddt",
    ],
    "properties": {
        "reference_chains": {"type": "array", "items": {"type": "string"}},
        "mobile_chains": {"type": "array", "items": {"type": "string"}},
        "correspondence": {"type": "string"},
        "sequence_identity": _NUM,
        "n_aligned": {"type": "integer"},
        "reference_residues_unaligned": {"type": "integer", "minimum": 0},
        "tm_score": {"type": "number", "minimum": 0, "maximum": 1.0001},
        "normalising_length": {"type": "integer"},
        "d0": {"type": "number"},
        "rmsd": {"type": "number", "minimum": 0},
        "gdt_ts": {"type": "number", "minimum": 0, "maximum": 1},
        "gdt_ha": {"type": "number", "minimum": 0, "maximum": 1},
        "gdt_shares": {"type": "object", "additionalProperties": {"type": "number"}},
        "ca_lddt": {"type": "number", "minimum": 0, "maximum": 1},
    },
}

_INTERFACE = {
    "type": "object",
    "required": [
        "alphafold",
        "openfold",
        "dockq",
        "capri_class",
        "fnat",
        "fnonnat",
        "irmsd",
        "lrmsd",
        "f1",
        "clashes",
    ],
    "properties": {
        "alphafold": {"type": "array", "items": {"type": "string"}},
        "openfold": {"type": "array", "items": {"type": "string"}},
        "dockq": {"type": "number", "minimum": 0, "maximum": 1},
        "capri_class": {"enum": ["high", "medium", "acceptable", "incorrect"]},
        "fnat": {"type": "number", "minimum": 0, "maximum": 1},
        "fnonnat": {"type": "number", "minimum": 0, "maximum": 1},
        "irmsd": {"type": "number", "minimum": 0},
        "lrmsd": {"type": "number", "minimum": 0},
        "f1": {"type": "number", "minimum": 0, "maximum": 1},
        "clashes": {"type": "integer", "minimum": 0},
    },
}

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
        "schema_version",
        "created_at",
        "context",
        "headline",
        "engines",
        "comparison",
        "runtimes",
        "files",
        "warnings",
    ],
    "properties": {
        "schema_version": {"type": "string", "pattern": r"^2\.\d+$"},
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
                "method",
                "reference",
                "superposed",
                "relaxation",
                "models_compared",
                "pairing",
                "chain_matching",
                "complex",
                "per_chain",
                "tm_score_normalisation",
                "gdt_method",
                "lddt_method",
                "engine_agreement",
                "engine_agreement_note",
                "interfaces",
                "notes",
            ],
            "properties": {
                "method": {"const": "correspondence"},
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
                "tm_score_normalisation": {"type": "string"},
                "gdt_method": {"type": "string"},
                "lddt_method": {"type": "string"},
                "engine_agreement": {"type": "boolean"},
                "engine_agreement_note": _STR,
                "interfaces": {
                    "type": ["object", "null"],
                    "required": ["method", "items", "notes"],
                    "properties": {
                        "method": {"type": "string"},
                        "items": {"type": "array", "items": _INTERFACE},
                        "notes": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "notes": {"type": "array", "items": {"type": "string"}},
                "per_residue_deviation": {
                    "type": "object",
                    "required": ["unit", "method", "values"],
                    "properties": {
                        "unit": {"const": "Å"},
                        "method": {"type": "string"},
                        "values": {"type": "array", "items": {"type": ["number", "null"]}},
                    },
                },
            },
        },
        "msa_engine": {
            "type": ["object", "null"],
            "required": ["engine", "engine_version", "db_preset", "databases", "reused_from"],
            "properties": {
                "engine": {"type": "string"},
                "engine_version": _STR,
                "db_preset": _STR,
                "databases": {"type": ["array", "null"], "items": {"type": "string"}},
                "reused_from": _STR,
            },
        },
        "msa": {
            "type": ["object", "null"],
            "required": ["method", "chains"],
            "properties": {
                "method": {"type": "string"},
                "chains": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "length", "n_sequences", "files", "depth"],
                        "properties": {
                            "name": {"type": "string"},
                            "length": {"type": "integer"},
                            "n_sequences": {"type": "integer"},
                            "files": {
                                "type": "object",
                                "additionalProperties": {"type": "integer"},
                            },
                            "depth": {"type": "array", "items": {"type": "integer"}},
                        },
                    },
                },
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
            "engines": {
                "properties": {"alphafold": {"type": "object"}, "openfold": {"type": "object"}}
            },
            "files": {"properties": {"models": {"required": ["alphafold", "openfold"]}}},
        },
    },
}
