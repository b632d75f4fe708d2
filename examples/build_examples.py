"""Rebuild the bundled example data from the project's shared reference data.

Run from the repository root (needs ``../shared/data`` next to it or ``FOLDLINE_SHARED``)::

    python examples/build_examples.py

Everything written here is real data that foldline did not make: sequences and
alignments from the OpenFold repository's 6KWC example (Apache-2.0), experimental
structures from the PDB (CC0) and one OpenFold prediction standing in for the 6KWC entry.
The script records what it took from where in ``examples/databases/PROVENANCE.json``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import gemmi
from Bio import SeqIO

ROOT = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("FOLDLINE_SHARED", ROOT.parent.parent / "shared")) / "data"
ALIGNMENTS = SHARED / "openfold-6kwc" / "alignments" / "6KWC_1"
PREDICTION = SHARED / "openfold-6kwc" / "predictions" / "6KWC_1_model_1_ptm_unrelaxed.pdb"
STRUCTURES = SHARED / "structures"
DATABASES = ROOT / "databases"

#: the demo query: a GH11 xylanase (Chaetomium thermophilum) that HHblits aligned to 6KWC
#: with 62 % identity over 98 % of 6KWC's length in OpenFold's example alignment
QUERY_ID = "UniRef100_G0S9X3"
#: experimental structures copied into the template library (2crb, 1psm and 5kc1 are
#: left out to keep the examples small: 2.6, 1.0 and 0.7 MB, and no query needs them)
EXPERIMENTAL = ("3zee", "4i6p", "4zey", "3u8v", "2q2k")
#: the multimer demo: Par-3's N-terminal domain (the sequence of PDB 3ZEE) as a homodimer;
#: 4I6P holds the same domain as a two-chain crystal structure
MULTIMER_SOURCE = "3zee"
#: when the OpenFold run that made the 6KWC model happened ("Date" line of
#: hhsearch_output.hhr in the same example); used as the stand-in's release date
MODEL_DATE = "2024-05-03"


def _degap(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", text).upper()


def _a3m_records() -> list[tuple[str, str]]:
    records = list(SeqIO.parse(ALIGNMENTS / "bfd_uniref_hits.a3m", "fasta"))
    return [(r.description, _degap(str(r.seq))) for r in records[1:]]  # [0] is 6KWC itself


def _stockholm_records(path: Path) -> list[tuple[str, str]]:
    rows: dict[str, list[str]] = {}
    with open(path) as handle:
        for line in handle:
            if not line.strip() or line.startswith(("#", "//")):
                continue
            name, aligned = line.split()
            rows.setdefault(name, []).append(aligned)
    return [(name, _degap("".join(parts))) for name, parts in rows.items()][1:]  # [0]: query


def _write_fasta(path: Path, records: list[tuple[str, str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with open(path, "w") as handle:
        for header, sequence in records:
            if sequence in seen or len(sequence) < 30:
                continue
            seen.add(sequence)
            handle.write(f">{header}\n{sequence}\n")
    return len(seen)


def _model_as_mmcif(out: Path) -> str:
    """The OpenFold 6KWC prediction as mmCIF, labelled as the prediction it is."""
    st = gemmi.read_structure(str(PREDICTION))
    st.name = "6KWC"
    st.setup_entities()
    st.assign_label_seq_id(force=True)
    sequence = gemmi.one_letter_code([r.name for r in st[0][0]])
    st.entities[0].full_sequence = [r.name for r in st[0][0]]
    doc = st.make_mmcif_document()
    block = doc.sole_block()
    block.set_pair(
        "_struct.title",
        gemmi.cif.quote(
            "OpenFold model_1_ptm prediction of 6KWC_1 (predicted model standing in for the "
            "PDB entry; not an experimental structure)"
        ),
    )
    block.set_pair("_exptl.method", gemmi.cif.quote("THEORETICAL MODEL"))
    loop = block.init_loop(
        "_pdbx_audit_revision_history.",
        ["ordinal", "data_content_type", "major_revision", "minor_revision", "revision_date"],
    )
    loop.add_row(["1", gemmi.cif.quote("Structure model"), "1", "0", MODEL_DATE])
    doc.write_file(str(out))
    return sequence


def _seqres_line(pdb_id: str, chain: str, mol: str, sequence: str, title: str) -> str:
    return f">{pdb_id}_{chain} mol:{mol} length:{len(sequence)}  {title}\n{sequence}\n"


def build() -> dict:
    provenance: dict = {"source": str(SHARED), "files": {}}
    a3m = _a3m_records()
    query = [(h, s) for h, s in a3m if h.split()[0] == QUERY_ID]
    assert len(query) == 1, f"{QUERY_ID} not found once in bfd_uniref_hits.a3m"
    header, sequence = query[0]
    (ROOT / "xylanase.fasta").write_text(f">{header}\n{sequence}\n")

    uniref = [(h, s) for h, s in a3m if h.startswith("UniRef100_") and h != header]
    bfd = [(h, s) for h, s in a3m if not h.startswith("UniRef100_")]
    mgnify = _stockholm_records(ALIGNMENTS / "mgnify_hits.sto")
    counts = {
        "uniref90/uniref90.fasta": _write_fasta(DATABASES / "uniref90/uniref90.fasta", uniref),
        "small_bfd/bfd-first_non_consensus_sequences.fasta": _write_fasta(
            DATABASES / "small_bfd/bfd-first_non_consensus_sequences.fasta", bfd
        ),
        "mgnify/mgy_clusters_2022_05.fa": _write_fasta(
            DATABASES / "mgnify/mgy_clusters_2022_05.fa", mgnify
        ),
        # UniProt (multimer pairing) holds the same UniRef100 sequences as uniref90 here
        "uniprot/uniprot.fasta": _write_fasta(DATABASES / "uniprot/uniprot.fasta", uniref),
    }
    for name, n in counts.items():
        provenance["files"][name] = {"sequences": n}

    mmcif_dir = DATABASES / "pdb_mmcif" / "mmcif_files"
    mmcif_dir.mkdir(parents=True, exist_ok=True)
    (DATABASES / "pdb_mmcif" / "obsolete.dat").write_text("")
    seqres = []
    model_sequence = _model_as_mmcif(mmcif_dir / "6kwc.cif")
    seqres.append(
        _seqres_line(
            "6kwc",
            "A",
            "protein",
            model_sequence,
            "GH11 xylanase (OpenFold model standing in for 6KWC)",
        )
    )
    multimer_sequence = None
    for pdb_id in EXPERIMENTAL:
        source = STRUCTURES / f"{pdb_id}.cif"
        (mmcif_dir / f"{pdb_id}.cif").write_bytes(source.read_bytes())
        block = gemmi.cif.read(str(source)).sole_block()
        title = gemmi.cif.as_string(block.find_value("_struct.title"))
        st = gemmi.make_structure_from_block(block)
        for entity in st.entities:
            if entity.entity_type != gemmi.EntityType.Polymer:
                continue
            mol = "protein" if entity.polymer_type == gemmi.PolymerType.PeptideL else "na"
            letters = gemmi.one_letter_code(entity.full_sequence).upper()
            chains = sorted(
                {ch.name for ch in st[0] for sub in entity.subchains if ch.get_subchain(sub)}
            )
            for chain in chains:
                seqres.append(_seqres_line(pdb_id, chain, mol, letters, title))
            if pdb_id == MULTIMER_SOURCE and mol == "protein":
                multimer_sequence = letters
    (DATABASES / "pdb_seqres").mkdir(exist_ok=True)
    (DATABASES / "pdb_seqres" / "pdb_seqres.txt").write_text("".join(seqres))
    provenance["files"]["pdb_seqres/pdb_seqres.txt"] = {"chains": len(seqres)}
    provenance["files"]["pdb_mmcif/mmcif_files"] = {
        "6kwc.cif": f"{PREDICTION.name} converted with gemmi; revision_date {MODEL_DATE} is "
        "the date of the OpenFold run, not a PDB release",
        **{f"{p}.cif": f"structures/{p}.cif (PDB)" for p in EXPERIMENTAL},
    }
    assert multimer_sequence
    (ROOT / "multimer.fasta").write_text(
        f">par3_ntd_A Par-3 N-terminal domain (sequence of PDB 3ZEE)\n{multimer_sequence}\n"
        f">par3_ntd_B Par-3 N-terminal domain (sequence of PDB 3ZEE)\n{multimer_sequence}\n"
    )
    provenance["query"] = {
        "xylanase.fasta": f"{QUERY_ID} from bfd_uniref_hits.a3m (de-gapped)",
        "multimer.fasta": "PDB 3ZEE entity 1, twice",
    }
    (DATABASES / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
