"""Which modules the engine's Python can import (run with that Python, inside an image)."""

import importlib.util
import json
import sys

MODULES = (
    "alphafold.data.pipeline",
    "alphafold.data.pipeline_multimer",
    "alphafold.data.templates",
    "alphafold.model.model",
    "alphafold.relax.relax",
    "jax",
    "haiku",
    "openmm",
    "pdbfixer",
)


def importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


found = {name: importable(name) for name in MODULES}
found["python"] = sys.executable
found["find_spec_sagemaker_training"] = importlib.util.find_spec("sagemaker_training") is not None
print(json.dumps(found))
