"""Random AlphaFold 2.3 parameters in DeepMind's release format (runs in the AlphaFold image).

    make_random_params.py OUT_DIR MODEL_NAME [MODEL_NAME ...]

writes ``OUT_DIR/params/params_<model>.npz`` for each model and
``OUT_DIR/params/foldline-weights.json`` saying they are random (the AlphaFold step names
them so in its manifest). No weights can be downloaded here; these have the real ones'
keys and shapes, so AlphaFold's own loader (``alphafold.model.data.get_model_haiku_params``)
and model take them as they take DeepMind's.

Shapes come from ``jax.eval_shape`` of the model's haiku ``init`` on a 16-residue input
(two such chains for the multimer models, assembled by ``pipeline_multimer``; parameter
shapes do not depend on the length); values: normal / sqrt(fan-in) weights,
unit LayerNorm scales, zero offsets and biases (as bench/gpu_calibration.py's "fast" init).
Keys are DeepMind's ``<module scope>//<name>``, with the triangle multiplications'
left/right projections unfused (``alphafold.model.utils.flat_params_to_haiku(fuse=False)``),
as in the released files: the loader fuses them again.
"""

import json
import os
import sys

import jax
import numpy as np
from alphafold.common import residue_constants
from alphafold.data import pipeline
from alphafold.data.parsers import Msa
from alphafold.model import config, model, utils

LENGTH = 16
SEED = 0


def raw_features(templates: int) -> dict:
    rng = np.random.default_rng(SEED)
    sequence = "".join(rng.choice(list(residue_constants.restypes), LENGTH))
    features = pipeline.make_sequence_features(sequence, "random", LENGTH)
    features.update(
        pipeline.make_msa_features(
            [Msa(sequences=[sequence], deletion_matrix=[[0] * LENGTH], descriptions=["random"])]
        )
    )
    aatype = residue_constants.sequence_to_onehot(sequence, residue_constants.HHBLITS_AA_TO_ID)
    positions = rng.normal(scale=10.0, size=(templates, LENGTH, residue_constants.atom_type_num, 3))
    features.update(
        {
            "template_aatype": np.repeat(aatype[None], templates, axis=0).astype(np.float32),
            "template_all_atom_positions": positions.astype(np.float32),
            "template_all_atom_masks": np.ones(
                (templates, LENGTH, residue_constants.atom_type_num), np.float32
            ),
            "template_domain_names": np.array([b"random"] * templates, dtype=np.object_),
            "template_sum_probs": np.ones((templates, 1), np.float32),
        }
    )
    return features


def multimer_features(templates: int) -> dict:
    """Two chains through AlphaFold-Multimer's own feature assembly (pipeline_multimer)."""
    from alphafold.data import feature_processing, pipeline_multimer

    chains = {}
    for chain_id in ("A", "B"):
        features = raw_features(templates)
        chains[chain_id] = pipeline_multimer.convert_monomer_features(features, chain_id)
    chains = pipeline_multimer.add_assembly_features(chains)
    example = feature_processing.pair_and_merge(all_chain_features=chains)
    example = pipeline_multimer.pad_msa(example, 512)
    length = example["aatype"].shape[0]
    # the model's first recycle: alphafold-colabfold's multimer model takes the previous
    # iteration's outputs in the batch (zeros, as RunModel.predict starts)
    example["prev"] = {
        "prev_msa_first_row": np.zeros((length, 256), np.float32),
        "prev_pair": np.zeros((length, length, 128), np.float32),
        "prev_pos": np.zeros((length, residue_constants.atom_type_num, 3), np.float32),
    }
    return example


def random_params(model_name: str) -> dict:
    cfg = config.model_config(model_name)
    runner = model.RunModel(cfg) if "multimer" in model_name else None
    if runner is not None:
        first_recycle = multimer_features(templates=4)
    else:
        cfg.data.eval.num_ensemble = 1
        runner = model.RunModel(cfg)
        feat = runner.process_features(raw_features(templates=4), random_seed=SEED)
        first_recycle = jax.tree_util.tree_map(lambda x: x[:1], feat)
    shapes = jax.eval_shape(runner.init, jax.random.PRNGKey(SEED), first_recycle)
    rng = np.random.default_rng(SEED)

    def fill(name, spec):
        if name == "scale":
            return np.ones(spec.shape, np.float32)
        if name in ("offset", "bias") or name.endswith("_b") or len(spec.shape) < 2:
            return np.zeros(spec.shape, np.float32)
        fan_in = int(np.prod(spec.shape[:-1])) or 1
        return (rng.standard_normal(spec.shape) / np.sqrt(fan_in)).astype(np.float32)

    flat = {
        f"{scope}//{name}": fill(name, spec)
        for scope, names in shapes.items()
        for name, spec in names.items()
    }
    unfused = utils.flat_params_to_haiku(flat, fuse=False, to_jnp=False)
    return {
        f"{scope}//{name}": np.asarray(value)
        for scope, names in unfused.items()
        for name, value in names.items()
    }


def main(argv):
    out, names = argv[1], argv[2:]
    params_dir = os.path.join(out, "params")
    os.makedirs(params_dir, exist_ok=True)
    for name in names:
        np.savez(os.path.join(params_dir, f"params_{name}.npz"), **random_params(name))
        print(f"params_{name}.npz", flush=True)
    with open(os.path.join(params_dir, "foldline-weights.json"), "w") as handle:
        json.dump(
            {
                "kind": "random",
                "name": f"random AlphaFold 2.3 parameters in the real shapes ({', '.join(names)})",
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
