"""The genetic databases in AlphaFold 2.3's download layout, and the flags that name them.

The FSx channel (``SM_CHANNEL_DATABASES``) and the local bundled databases both hold
what ``scripts/download_all_databases.sh`` of AlphaFold 2.3 writes. Flag names are
``run_alphafold.py``'s; the MSA step's data-pipeline runner takes the same ones.
"""

from __future__ import annotations

from pathlib import Path

from foldline.steps.contract import StepFailed

# Relative paths under the databases root (AlphaFold 2.3.2's download scripts).
UNIREF90 = "uniref90/uniref90.fasta"
MGNIFY = "mgnify/mgy_clusters_2022_05.fa"
BFD = "bfd/bfd_metaclust_clu_complete_id30_c90_final_seq.sorted_opt"  # HH-suite db prefix
UNIREF30 = "uniref30/UniRef30_2021_03"  # HH-suite db prefix
SMALL_BFD = "small_bfd/bfd-first_non_consensus_sequences.fasta"
PDB70 = "pdb70/pdb70"  # HH-suite db prefix
PDB_SEQRES = "pdb_seqres/pdb_seqres.txt"
UNIPROT = "uniprot/uniprot.fasta"
MMCIF_DIR = "pdb_mmcif/mmcif_files"
OBSOLETE = "pdb_mmcif/obsolete.dat"
ALPHAFOLD_PARAMS = "params"  # params_model_1.npz ... (AlphaFold weights)
OPENFOLD_PARAMS = "openfold_params"  # OpenFold checkpoints (*.pt)

#: HH-suite databases are file-name prefixes (``<prefix>_a3m.ffdata`` ...), not files
_PREFIX_DATABASES = frozenset({BFD, UNIREF30, PDB70})


def is_multimer(model_preset: str) -> bool:
    return model_preset == "multimer"


def database_flags(db_preset: str, model_preset: str) -> list[tuple[str, str]]:
    """``(flag, relative path)`` for every database the presets need, in a stable order.

    full_dbs searches BFD + UniRef30 with HHblits; reduced_dbs searches small BFD with
    jackhmmer. Monomer finds templates with HHsearch over pdb70; multimer with hmmsearch
    over pdb_seqres, and pairs chains through a jackhmmer search of UniProt.
    """
    if db_preset not in ("full_dbs", "reduced_dbs"):
        raise StepFailed(f"DbPreset {db_preset!r} is not full_dbs or reduced_dbs")
    flags = [("uniref90_database_path", UNIREF90), ("mgnify_database_path", MGNIFY)]
    if db_preset == "full_dbs":
        flags += [("bfd_database_path", BFD), ("uniref30_database_path", UNIREF30)]
    else:
        flags += [("small_bfd_database_path", SMALL_BFD)]
    if is_multimer(model_preset):
        flags += [("uniprot_database_path", UNIPROT), ("pdb_seqres_database_path", PDB_SEQRES)]
    else:
        flags += [("pdb70_database_path", PDB70)]
    flags += [("template_mmcif_dir", MMCIF_DIR), ("obsolete_pdbs_path", OBSOLETE)]
    return flags


def database_args(db_root: Path, db_preset: str, model_preset: str) -> list[str]:
    """The flags as ``--name=/abs/path`` arguments (absl and argparse both accept it)."""
    return [f"--{flag}={db_root / rel}" for flag, rel in database_flags(db_preset, model_preset)]


def missing_databases(db_root: Path, db_preset: str, model_preset: str) -> list[str]:
    """Relative paths the presets need that are not under ``db_root``."""
    missing = []
    for _, rel in database_flags(db_preset, model_preset):
        path = db_root / rel
        if rel in _PREFIX_DATABASES:
            found = path.parent.is_dir() and any(path.parent.glob(path.name + "*"))
        else:
            found = path.exists()
        if not found:
            missing.append(rel)
    return missing


def require_databases(db_root: Path, db_preset: str, model_preset: str) -> None:
    """Fail early and plainly, rather than deep inside a tool, when a database is absent."""
    missing = missing_databases(db_root, db_preset, model_preset)
    if missing:
        raise StepFailed(
            f"genetic databases missing under {db_root} for {db_preset}/{model_preset}: "
            + ", ".join(missing)
        )
