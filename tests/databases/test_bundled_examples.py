"""What ``examples/build_examples.py`` says it derived is what the bundled files hold.

AlphaFold's own parsers read these files in ``tests/containers/test_bundled_databases.py``;
here, without images: each UniProt entry is the UniRef100 hit it was derived from (the
same bundled hits, under their UniRef100 headers, make up ``uniref90.fasta``), and the
6KWC stand-in holds the OpenFold prediction's coordinates, labelled as a model.
"""

from __future__ import annotations

import re
from pathlib import Path

import gemmi
import numpy as np
from Bio import SeqIO

ROOT = Path(__file__).resolve().parents[2]
DATABASES = ROOT / "examples" / "databases"
PREDICTION = (
    ROOT / "tests" / "data" / "analysis" / "openfold-6kwc" / "6KWC_1_model_1_ptm_unrelaxed.pdb"
)
UNIPROT_HEADER = re.compile(r"^(sp|tr)\|(\w{6,10})\|(\w+)_(\w{1,5})( .+)?$")


def _records(path: Path) -> list[tuple[str, str]]:
    return [(r.description, str(r.seq)) for r in SeqIO.parse(path, "fasta")]


def test_each_uniprot_entry_is_the_uniref100_hit_of_its_accession():
    uniref: dict[str, list[tuple[str, str]]] = {}
    for header, sequence in _records(DATABASES / "uniref90" / "uniref90.fasta"):
        accession = header.split()[0].removeprefix("UniRef100_")
        uniref.setdefault(accession, []).append((header, sequence))
    entries = _records(DATABASES / "uniprot" / "uniprot.fasta")
    accessions = [UNIPROT_HEADER.match(h).group(2) for h, _ in entries]
    assert len(accessions) == len(set(accessions)) > 200  # one entry per accession
    for header, sequence in entries:
        db, accession, mnemonic, species, rest = UNIPROT_HEADER.match(header).groups()
        hits = uniref[accession]
        source = hits[0][0]
        assert f" RepID={mnemonic}_{species}" in source
        # TrEMBL entry names are the accession; Swiss-Prot's are mnemonics
        assert (db == "tr") == (mnemonic == accession)
        assert rest.split(" OS=")[0].strip() == source.split(" n=")[0].split(" ", 1)[1]
        if " OS=" in rest:  # only where the cluster is the one entry: its taxon is the entry's
            assert " n=1 " in source
            assert f"Tax={rest.split(' OS=')[1].split(' OX=')[0]} " in source
        assert sequence == max((s for _, s in hits), key=len)
    # UniParc clusters (no UniProtKB entry) are not in UniProt
    assert not any(a.startswith("UPI") for a in accessions)
    assert any(a.startswith("UPI") for a in uniref)


def test_the_6kwc_entry_is_the_openfold_prediction_labelled_as_a_model():
    cif = DATABASES / "pdb_mmcif" / "mmcif_files" / "6kwc.cif"
    block = gemmi.cif.read(str(cif)).sole_block()
    assert gemmi.cif.as_string(block.find_value("_exptl.method")) == "THEORETICAL MODEL"
    assert "not an experimental structure" in gemmi.cif.as_string(block.find_value("_struct.title"))
    model, prediction = gemmi.read_structure(str(cif)), gemmi.read_structure(str(PREDICTION))
    atoms = [
        [(r.name, a.name, a.pos.tolist()) for r in ch for a in r]
        for st in (model, prediction)
        for ch in st[0]
    ]
    assert [a[:2] for a in atoms[0]] == [a[:2] for a in atoms[1]]
    assert np.allclose([a[2] for a in atoms[0]], [a[2] for a in atoms[1]], atol=1e-3)
    # the polymer's sequence, its components' types and the chain-to-entity map, which
    # AlphaFold's parser reads to find protein chains
    sequence = [r.name for r in prediction[0][0]]
    assert list(block.find_values("_entity_poly_seq.mon_id")) == sequence
    types = dict(
        zip(
            block.find_values("_chem_comp.id"),
            (gemmi.cif.as_string(t) for t in block.find_values("_chem_comp.type")),
        )
    )
    assert set(types) == set(sequence)
    assert all(
        t == ("peptide linking" if c == "GLY" else "L-peptide linking") for c, t in types.items()
    )
