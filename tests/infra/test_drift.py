"""Facts template.yaml repeats from the foldline package: a copy that drifts fails here."""

from __future__ import annotations

import re
from pathlib import Path

from foldline.intake.fasta import IntakeLimits
from foldline.spec import parameters as fp

ROOT = Path(__file__).resolve().parents[2]

#: template parameter -> (environment variable of the start function, IntakeLimits field)
INTAKE = {
    "FoldlineMinLength": ("FOLDLINE_MIN_LENGTH", "min_length"),
    "FoldlineMaxResidues": ("FOLDLINE_MAX_RESIDUES", "max_total_residues"),
    "FoldlineMaxChains": ("FOLDLINE_MAX_CHAINS", "max_chains"),
    "FoldlineMaxFastaBytes": ("FOLDLINE_MAX_FASTA_BYTES", "max_bytes"),
    "FoldlineMaxScreenSequences": ("FOLDLINE_MAX_SCREEN_SEQUENCES", "max_screen_sequences"),
}
COMMON_ENV = ("BUCKET_NAME", "RUNS_TABLE", "TOPIC_ARN", "PIPELINE_NAME", "IDEMPOTENCY_TABLE")
FUNCTIONS = {  # logical id -> code folder
    "StartPipelineFunction": "functions/start_pipeline",
    "AnalysisFunction": "functions/analysis",
    "NotifyFunction": "functions/notify",
    "ProgressFunction": "functions/progress",
}
_ENV_READ = re.compile(
    r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def function_env(template, name: str) -> dict:
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    env |= template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    return env


def test_pipeline_name_default(template):
    assert template["Parameters"]["PipelineName"]["Default"] == fp.PIPELINE_NAME


def test_intake_limit_defaults_and_variables(template):
    env = function_env(template, "StartPipelineFunction")
    defaults = IntakeLimits()
    for param, (variable, field) in INTAKE.items():
        assert template["Parameters"][param]["Default"] == getattr(defaults, field), param
        assert env[variable] == {"Ref": param}
        # the name the stack sets is the name the package reads
        assert getattr(IntakeLimits.from_env({variable: "7"}), field) == 7, variable


def test_every_function_gets_the_common_configuration(template):
    for name in FUNCTIONS:
        env = function_env(template, name)
        assert set(COMMON_ENV) <= set(env), name
        assert env["POWERTOOLS_SERVICE_NAME"], name
        assert env["PIPELINE_NAME"] == {"Ref": "PipelineName"}


def test_variables_the_handlers_read_are_set(template):
    """Every os.environ name a handler reads is in its function's environment."""
    for name, folder in FUNCTIONS.items():
        handler = ROOT / folder / "app.py"
        if not handler.exists():
            continue
        read = set(_ENV_READ.findall(handler.read_text()))
        missing = (
            read - set(function_env(template, name)) - {"AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"}
        )
        assert not missing, f"{name} reads {sorted(missing)} but template.yaml does not set them"


def test_instance_type_defaults_match_the_definition(template):
    import json

    from pipeline import embedded

    declared = {p["Name"]: p for p in json.loads(embedded.definition_text(template))["Parameters"]}
    for param in (fp.MSA_INSTANCE_TYPE, fp.INFERENCE_INSTANCE_TYPE):
        assert declared[param.name]["DefaultValue"] == param.default


def test_spend_limit_defaults_and_variables(template):
    import re as _re

    from foldline.intake.spend_limits import FAMILIES_ENV, MAX_COST_ENV, SpendLimits

    env = function_env(template, "StartPipelineFunction")
    assert env[FAMILIES_ENV] == {"Ref": "PinnableInstanceFamilies"}
    assert env[MAX_COST_ENV] == {"Ref": "MaxRunCostUsd"}
    families = template["Parameters"]["PinnableInstanceFamilies"]
    ceiling = template["Parameters"]["MaxRunCostUsd"]
    deployed = SpendLimits.from_env(
        {FAMILIES_ENV: families["Default"], MAX_COST_ENV: str(ceiling["Default"])}
    )
    assert deployed == SpendLimits()  # the stack's defaults are the package's
    assert _re.fullmatch(families["AllowedPattern"], families["Default"])
    # every default family has types an upload may pin
    allowed = fp.MSA_INSTANCE_TYPES + fp.INFERENCE_INSTANCE_TYPES
    for family in SpendLimits().pinnable_families:
        assert any(t.startswith(family + ".") for t in allowed), family


def test_openfold_weights_switch(template):
    """The stack parameter, the variable the definition sets and what the step reads agree."""
    import json

    from foldline.steps import openfold
    from pipeline import embedded

    parameter = template["Parameters"]["OpenFoldWeights"]
    assert tuple(parameter["AllowedValues"]) == openfold.WEIGHTS_CHOICES
    assert parameter["Default"] == openfold.OPENFOLD_WEIGHTS
    steps = {s["Name"]: s for s in json.loads(embedded.definition_text(template))["Steps"]}
    environment = steps[fp.OPENFOLD_STEP.name]["Arguments"]["Environment"]
    assert environment == {openfold.WEIGHTS_ENV: "${OpenFoldWeights}"}


def test_msa_engine_choices(template):
    """MsaEngine's allowed values are the package's one list of engines, and the stack
    parameter reaches both the MSA step and the start function (the cache key)."""
    import json

    from foldline.steps import msa_cache
    from pipeline import embedded

    parameter = template["Parameters"]["MsaEngine"]
    assert tuple(parameter["AllowedValues"]) == msa_cache.ENGINE_CHOICES
    assert parameter["Default"] in msa_cache.ENGINE_CHOICES
    definition = json.loads(embedded.definition_text(template))
    steps = {s["Name"]: s for s in definition["Steps"]}
    environment = steps[fp.MSA_STEP.name]["Arguments"]["Environment"]
    # the job runs the run's MsaEngine (an upload's tag), whose default is the stack's
    assert environment[msa_cache.ENGINE_ENV] == {"Get": f"Parameters.{fp.MSA_ENGINE.name}"}
    (declared,) = [p for p in definition["Parameters"] if p["Name"] == fp.MSA_ENGINE.name]
    assert declared["DefaultValue"] == "${MsaEngine}"
    assert tuple(declared["EnumValues"]) == msa_cache.ENGINE_CHOICES
    start_env = template["Resources"]["StartPipelineFunction"]["Properties"]["Environment"]
    assert start_env["Variables"][msa_cache.ENGINE_ENV] == {"Ref": "MsaEngine"}
