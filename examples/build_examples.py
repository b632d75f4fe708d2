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
#: shorter hits (fragments) are left out of the sequence databases
MIN_LENGTH = 30


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


_UNIREF_HEADER = re.compile(
    r"^UniRef100_(?P<accession>\S+) (?P<name>.*?) n=(?P<members>\d+) Tax=(?P<taxon>.*?) "
    r"TaxID=(?P<taxid>\S+) RepID=(?P<entry_name>\S+)$"
)


def _uniprot_records(uniref: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict]:
    """UniProtKB entries, in UniProt's FASTA header format, from UniRef100 hits.

    A UniRef100 cluster is named after its representative member: ``UniRef100_<accession>``
    and ``RepID=<entry name>`` are that UniProtKB entry's accession and entry name, so the
    header ``>db|accession|entry_name protein name`` is the entry's own; the entry name ends
    in UniProt's species code (``A0A2L2TCV1_9HYPO``), which AlphaFold's
    ``msa_identifiers`` reads to pair multimer MSAs. ``db`` is ``tr`` (TrEMBL: entry name
    = accession + species code) or ``sp`` (Swiss-Prot: a mnemonic entry name). ``OS=``/``OX=``
    are written only for one-member clusters, whose ``Tax=`` is the entry's own organism (a
    larger cluster's is the members' common taxon). Clusters whose representative is a
    UniParc record (``UPI…``, no UniProtKB entry) are left out, and an accession the A3M
    aligned twice (two domains) is kept once, with its longer aligned region. The
    sequences are the A3M's aligned regions (de-gapped): parts of the entries' sequences.
    """
    kept: dict[str, tuple[str, str]] = {}
    counts = {"swiss_prot": 0, "trembl": 0, "uniparc_left_out": 0, "repeated_accessions_merged": 0}
    for header, sequence in uniref:
        fields = _UNIREF_HEADER.match(header)
        assert fields, f"not a UniRef100 header: {header}"
        accession, entry_name = fields["accession"], fields["entry_name"]
        if len(sequence) < MIN_LENGTH:
            continue
        if accession.startswith("UPI"):
            counts["uniparc_left_out"] += 1
            continue
        if accession in kept:
            counts["repeated_accessions_merged"] += 1
            if len(sequence) <= len(kept[accession][1]):
                continue
        db = "tr" if entry_name.startswith(f"{accession}_") else "sp"
        organism = (
            f" OS={fields['taxon']} OX={fields['taxid']}"
            if fields["members"] == "1" and fields["taxid"].isdigit()
            else ""
        )
        kept[accession] = (f"{db}|{accession}|{entry_name} {fields['name']}{organism}", sequence)
    for header, _ in kept.values():
        counts["swiss_prot" if header.startswith("sp|") else "trembl"] += 1
    return list(kept.values()), counts


def _write_fasta(
    path: Path, records: list[tuple[str, str]], *, one_per_sequence: bool = True
) -> int:
    """Write records of at least :data:`MIN_LENGTH` residues; by default one per sequence
    (a sequence database's repeated hits); UniProt keeps every entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    written = 0
    with open(path, "w") as handle:
        for header, sequence in records:
            if (one_per_sequence and sequence in seen) or len(sequence) < MIN_LENGTH:
                continue
            seen.add(sequence)
            handle.write(f">{header}\n{sequence}\n")
            written += 1
    return written


#: the PDB chemical component dictionary's type of each standard amino acid (glycine,
#: achiral, is "peptide linking"): AlphaFold's mmCIF parser keeps a polymer as a protein
#: chain only where a component's ``_chem_comp.type`` contains "peptide"
_PEPTIDE_TYPES = {"GLY": "peptide linking"}


def _poly_seq_scheme(block, entity: str, asym: str, chain) -> None:
    """``_pdbx_poly_seq_scheme`` (the sequence-to-coordinates map the PDB writes)."""
    loop = block.init_mmcif_loop(
        "_pdbx_poly_seq_scheme.",
        [
            "asym_id",
            "entity_id",
            "seq_id",
            "mon_id",
            "ndb_seq_num",
            "pdb_seq_num",
            "auth_seq_num",
            "pdb_mon_id",
            "auth_mon_id",
            "pdb_strand_id",
            "pdb_ins_code",
            "hetero",
        ],
    )
    for residue in chain:
        n = str(residue.label_seq)
        loop.add_row(
            [
                asym,
                entity,
                n,
                residue.name,
                n,
                str(residue.seqid.num),
                str(residue.seqid.num),
                residue.name,
                residue.name,
                chain.name,
                ".",
                "n",
            ]
        )


def _add_columns(block, category: str, **values: str) -> None:
    """Add columns to a one-row category, in place."""
    table = block.get_mmcif_category(category)
    table.update({key: [value] for key, value in values.items()})
    block.set_mmcif_category(category, table)


def _model_as_mmcif(out: Path) -> str:
    """The OpenFold 6KWC prediction as a complete mmCIF entry, labelled as the prediction it is.

    Written with gemmi from the model's coordinates, with the categories AlphaFold's
    ``mmcif_parsing`` reads: ``_entity_poly_seq`` (the chain's sequence), ``_chem_comp``
    with the dictionary's types (a protein chain is one with "peptide" components),
    ``_struct_asym`` (chain to entity), ``_atom_site`` with label and author numbering and
    model numbers, ``_exptl.method`` and ``_pdbx_audit_revision_history`` (the release
    date); and ``_entity_poly`` and ``_pdbx_poly_seq_scheme`` as the PDB writes them.
    """
    st = gemmi.read_structure(str(PREDICTION))
    st.name = "6KWC"
    st.info["_entry.id"] = "6KWC"
    st.setup_entities()
    (entity,) = st.entities
    (chain,) = st[0]
    entity.name, entity.subchains = "1", ["A"]
    for residue in chain:
        residue.subchain = "A"
    names = [r.name for r in chain]
    entity.full_sequence = names
    st.assign_label_seq_id(force=True)
    groups = gemmi.MmcifOutputGroups(False)
    for group in (
        "block_name",
        "entry",
        "entity",
        "entity_poly",
        "entity_poly_seq",
        "chem_comp",
        "struct_asym",
        "atom_type",
        "atoms",
        "auth_all",
        "group_pdb",
    ):
        setattr(groups, group, True)
    doc = st.make_mmcif_document(groups)
    block = doc.sole_block()
    _add_columns(block, "_entity.", pdbx_description="GH11 endo-1,4-beta-xylanase")
    _add_columns(block, "_entity_poly.", pdbx_seq_one_letter_code_can=gemmi.one_letter_code(names))
    types = block.init_mmcif_loop("_chem_comp.", ["id", "type", "mon_nstd_flag"])
    for name in sorted(set(names)):
        types.add_row([name, gemmi.cif.quote(_PEPTIDE_TYPES.get(name, "L-peptide linking")), "y"])
    _poly_seq_scheme(block, "1", "A", chain)
    block.set_pair("_struct.entry_id", "6KWC")
    block.set_pair(
        "_struct.title",
        gemmi.cif.quote(
            "OpenFold model_1_ptm prediction of 6KWC_1 (predicted model standing in for the "
            "PDB entry; not an experimental structure)"
        ),
    )
    block.set_pair("_exptl.entry_id", "6KWC")
    block.set_pair("_exptl.method", gemmi.cif.quote("THEORETICAL MODEL"))
    history = block.init_mmcif_loop(
        "_pdbx_audit_revision_history.",
        ["ordinal", "data_content_type", "major_revision", "minor_revision", "revision_date"],
    )
    history.add_row(["1", gemmi.cif.quote("Structure model"), "1", "0", MODEL_DATE])
    doc.write_file(str(out))
    return gemmi.one_letter_code(names)


def _seqres_line(pdb_id: str, chain: str, mol: str, sequence: str, title: str) -> str:
    return f">{pdb_id}_{chain} mol:{mol} length:{len(sequence)}  {title}\n{sequence}\n"


def build(out: Path = ROOT) -> dict:
    """Write the examples into ``out`` (default: this folder); returns the provenance."""
    databases = out / "databases"
    provenance: dict = {"source": "shared/data (the project's shared reference data)", "files": {}}
    a3m = _a3m_records()
    query = [(h, s) for h, s in a3m if h.split()[0] == QUERY_ID]
    assert len(query) == 1, f"{QUERY_ID} not found once in bfd_uniref_hits.a3m"
    header, sequence = query[0]
    (out / "xylanase.fasta").write_text(f">{header}\n{sequence}\n")

    uniref = [(h, s) for h, s in a3m if h.startswith("UniRef100_") and h != header]
    bfd = [(h, s) for h, s in a3m if not h.startswith("UniRef100_")]
    mgnify = _stockholm_records(ALIGNMENTS / "mgnify_hits.sto")
    uniprot, uniprot_counts = _uniprot_records(uniref)
    counts = {
        "uniref90/uniref90.fasta": _write_fasta(databases / "uniref90/uniref90.fasta", uniref),
        "small_bfd/bfd-first_non_consensus_sequences.fasta": _write_fasta(
            databases / "small_bfd/bfd-first_non_consensus_sequences.fasta", bfd
        ),
        "mgnify/mgy_clusters_2022_05.fa": _write_fasta(
            databases / "mgnify/mgy_clusters_2022_05.fa", mgnify
        ),
        # UniProt (searched for multimer MSA pairing): the UniProtKB entries among them
        "uniprot/uniprot.fasta": _write_fasta(
            databases / "uniprot/uniprot.fasta", uniprot, one_per_sequence=False
        ),
    }
    for name, n in counts.items():
        provenance["files"][name] = {"sequences": n}
    provenance["files"]["uniprot/uniprot.fasta"].update(
        {
            "headers": "UniProt's (>sp|accession|entry_name or >tr|...), from UniRef100_<accession> "
            "and RepID=<entry name> of the UniRef100 hits; OS/OX only for one-member "
            "clusters",
            **uniprot_counts,
        }
    )

    mmcif_dir = databases / "pdb_mmcif" / "mmcif_files"
    mmcif_dir.mkdir(parents=True, exist_ok=True)
    (databases / "pdb_mmcif" / "obsolete.dat").write_text("")
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
    (databases / "pdb_seqres").mkdir(exist_ok=True)
    (databases / "pdb_seqres" / "pdb_seqres.txt").write_text("".join(seqres))
    provenance["files"]["pdb_seqres/pdb_seqres.txt"] = {"chains": len(seqres)}
    provenance["files"]["pdb_mmcif/mmcif_files"] = {
        "6kwc.cif": f"{PREDICTION.name} written with gemmi as a complete mmCIF entry (entity, "
        "entity_poly(_seq), chem_comp types, struct_asym, atom_site, "
        "pdbx_poly_seq_scheme, exptl THEORETICAL MODEL); revision_date "
        f"{MODEL_DATE} is the date of the OpenFold run, not a PDB release",
        **{f"{p}.cif": f"structures/{p}.cif (PDB)" for p in EXPERIMENTAL},
    }
    assert multimer_sequence
    (out / "multimer.fasta").write_text(
        f">par3_ntd_A Par-3 N-terminal domain (sequence of PDB 3ZEE)\n{multimer_sequence}\n"
        f">par3_ntd_B Par-3 N-terminal domain (sequence of PDB 3ZEE)\n{multimer_sequence}\n"
    )
    provenance["query"] = {
        "xylanase.fasta": f"{QUERY_ID} from bfd_uniref_hits.a3m (de-gapped)",
        "multimer.fasta": "PDB 3ZEE entity 1, twice",
    }
    (databases / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
