"""pTM per chain and ipTM per chain pair by AlphaFold's own ``predicted_tm_score`` (run with
the engine's Python, inside the image); prints JSON.

    chain_pair_ptm.py RESULT_PICKLE FEATURES_PICKLE   (plain or xz-compressed)

``alphafold.common.confidence.predicted_tm_score`` takes the PAE head's logits and bin
edges; a result pickle keeps the probabilities (``aligned_confidence_probs``, the logits'
softmax) and the last bin centre (``max_predicted_aligned_error``). ``log(probs)`` are
logits with that softmax, and AlphaFold's edges are ``num_bins - 1`` equal steps from 0
(``config``: ``max_error_bin``, ``num_bins``), read here from the installed model config.
The function is called on each chain's residues (pTM) and on each chain pair's residues
with their ``asym_id`` (ipTM), and on the whole complex, as the model computed ``ptm`` and
``iptm``.
"""

import json
import lzma
import pickle
import sys

import numpy as np
from alphafold.common import confidence, protein
from alphafold.model import config


def _load(path):
    """A pickle as AlphaFold writes it, or xz-compressed (the test data's copies)."""
    with open(path, "rb") as handle:
        xz = handle.read(6) == b"\xfd7zXZ\x00"
    with (lzma.open if xz else open)(path, "rb") as handle:
        return pickle.load(handle)


def main(result_path, features_path):
    result = _load(result_path)
    asym_id = np.asarray(_load(features_path)["asym_id"])
    head = config.model_config("model_1_multimer_v3").model.heads.predicted_aligned_error
    breaks = np.linspace(0.0, head.max_error_bin, head.num_bins - 1)
    probs = np.asarray(result["aligned_confidence_probs"], np.float64)
    with np.errstate(divide="ignore"):
        logits = np.log(probs)

    def score(index, interface):
        sub = np.ix_(index, index)
        return float(
            confidence.predicted_tm_score(
                logits=logits[sub],
                breaks=breaks,
                residue_weights=np.ones(len(index)),
                asym_id=asym_id[index] if interface else None,
            )
        )

    chains = sorted(set(asym_id.tolist()))
    members = {a: np.flatnonzero(asym_id == a) for a in chains}
    name = {a: protein.PDB_CHAIN_IDS[int(a) - 1] for a in chains}  # asym_id 1 is chain A
    everything = np.arange(len(asym_id))
    print(
        json.dumps(
            {
                "ptm": {name[a]: score(members[a], False) for a in chains},
                "iptm": {
                    f"{name[a]}-{name[b]}": score(np.concatenate([members[a], members[b]]), True)
                    for i, a in enumerate(chains)
                    for b in chains[i + 1 :]
                },
                "complex": {"ptm": score(everything, False), "iptm": score(everything, True)},
                "pickle": {
                    "ptm": float(result["ptm"]),
                    "iptm": float(result["iptm"]),
                    "max_predicted_aligned_error": float(result["max_predicted_aligned_error"]),
                },
                "breaks": [float(breaks[0]), float(breaks[-1]), len(breaks)],
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
