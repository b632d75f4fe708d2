#!/usr/bin/env python3
"""A test double of the external engines (not of foldline): records, then acts like them.

Copied by the tests to where a step expects the engine (``run_data_pipeline.py``,
``run_alphafold.py`` (foldline's AlphaFold runner), ``<OPENFOLD_DIR>/run_pretrained_openfold.py``);
it behaves as the file name it was given. It appends its argv, the Python start-up
variables and PATH it was started with, and what it found where the engine reads its
inputs, to ``$RECORDER_LOG`` (JSON lines), then writes the files that
engine writes, with plausible content. With ``RECORDER_FAIL=1`` it prints a traceback's
last lines to stderr, as a crashing engine does, and exits 1.
"""

import json
import os
import pickle
import sys
from pathlib import Path

PDB = (
    "ATOM      1  N   GLY A   1      -1.000   0.500   0.000  1.00 87.50           N\n"
    "ATOM      2  CA  GLY A   1       0.000   0.000   0.000  1.00 87.50           C\n"
    "TER\nEND\n"
)
STO = "# STOCKHOLM 1.0\n\nquery GSTIQPGTGY\nhit_1 GSTVQPGTGY\n//\n"
A3M = ">query\nGSTIQPGTGY\n>hit_1\nGSTVQPGaTGY\n"
HHR = "Query         query\nMatch_columns 10\n\n No Hit\n  1 2DFB_A Endo-xylanase  100.0\n"


def flags(argv):
    found, positional = {}, []
    for arg in argv:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            found[key] = value if _ else True
        else:
            positional.append(arg)
    return found, positional


def listing(folder):
    folder = Path(folder)
    if not folder.is_dir():
        return None
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def fail():
    print("I0101 starting", flush=True)
    print("Traceback (most recent call last):", file=sys.stderr)
    print('  File "engine.py", line 1, in <module>', file=sys.stderr)
    print("RuntimeError: engine exploded on purpose (RECORDER_FAIL)", file=sys.stderr)
    sys.exit(1)


def data_pipeline(opts):
    out = Path(opts["output_dir"]) / "msas"
    multimer = opts["model_preset"] == "multimer"
    bfd = (
        ("small_bfd_hits.sto", STO)
        if opts["db_preset"] == "reduced_dbs"
        else ("bfd_uniref_hits.a3m", A3M)
    )
    chains = [
        line for line in Path(opts["fasta_path"]).read_text().splitlines() if line.startswith(">")
    ]
    folders = [out / chr(ord("A") + i) for i in range(len(chains))] if multimer else [out]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        files = {"uniref90_hits.sto": STO, "mgnify_hits.sto": STO, bfd[0]: bfd[1]}
        if multimer:
            files.update({"uniprot_hits.sto": STO, "pdb_hits.sto": STO})
        else:
            files["pdb_hits.hhr"] = HHR
        for name, text in files.items():
            (folder / name).write_text(text)
    with open(Path(opts["output_dir"]) / "features.pkl", "wb") as handle:
        pickle.dump({"seq_length": [10]}, handle)
    (Path(opts["output_dir"]) / "timings.json").write_text(json.dumps({"features": 1.5}))


def alphafold(opts):
    stem = Path(opts["fasta_paths"]).stem
    out = Path(opts["output_dir"]) / stem
    multimer = opts["model_preset"] == "multimer"
    per_model = int(opts["num_multimer_predictions_per_model"]) if multimer else 1
    suffix = (
        "_multimer_v3" if multimer else ("_ptm" if opts["model_preset"] == "monomer_ptm" else "")
    )
    names = [f"model_{m}{suffix}_pred_{p}" for m in range(1, 6) for p in range(per_model)]
    scores = {name: 90.0 - i for i, name in enumerate(names)}
    for i, name in enumerate(names):
        (out / f"unrelaxed_{name}.pdb").write_text(PDB)
        (out / f"ranked_{i}.pdb").write_text(PDB)
        with open(out / f"result_{name}.pkl", "wb") as handle:
            pickle.dump({"plddt": [scores[name]], "ranking_confidence": scores[name]}, handle)
    (out / f"relaxed_{names[0]}.pdb").write_text(PDB)
    label = "iptm+ptm" if multimer else "plddts"
    (out / "ranking_debug.json").write_text(json.dumps({label: scores, "order": names}))
    (out / "timings.json").write_text(json.dumps({"features": 0.1}))
    with open(out / "features.pkl", "wb") as handle:
        pickle.dump({"seq_length": [10]}, handle)


def openfold(opts, positional):
    fasta_dir = Path(positional[0])
    out = Path(opts["output_dir"]) / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for fasta in sorted(fasta_dir.glob("*.fasta")):
        tag = fasta.read_text().splitlines()[0][1:].split()[0]
        for kind in ("unrelaxed", "relaxed"):
            (out / f"{tag}_{opts['config_preset']}_{kind}.pdb").write_text(PDB)
        timings = {tag: {"inference": 2.5}}
    (Path(opts["output_dir"]) / "timings.json").write_text(json.dumps(timings))


def main():
    me = Path(sys.argv[0]).name
    opts, positional = flags(sys.argv[1:])
    record = {
        "tool": me,
        "argv": sys.argv[1:],
        "environment": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("PYTHON") or k in ("PATH", "VIRTUAL_ENV")
        },
    }
    if me == "run_alphafold.py":
        record["msas"] = listing(Path(opts["output_dir"]) / Path(opts["fasta_paths"]).stem / "msas")
    elif me == "run_pretrained_openfold.py":
        record["alignments"] = listing(opts["use_precomputed_alignments"])
        record["fasta"] = {p.name: p.read_text() for p in Path(positional[0]).glob("*")}
    with open(os.environ["RECORDER_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    if os.environ.get("RECORDER_FAIL") == "1":
        fail()
    if me == "run_alphafold.py":
        alphafold(opts)
    elif me == "run_pretrained_openfold.py":
        openfold(opts, positional)
    else:
        data_pipeline(opts)


if __name__ == "__main__":
    main()
