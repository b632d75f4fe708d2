"""The "template-cpu" stand-in: template-based models from the MSA step's template hits.

For each of the best template hits in ``pdb_hits.sto`` (hmmsearch's, as the pyhmmer MSA
step and AlphaFold's multimer pipeline write it) or ``pdb_hits.hhr`` (HHsearch's, as
AlphaFold's monomer pipeline writes it; read with Bio.SearchIO), released on or before the
template cut-off, the query is aligned to the template chain, and the aligned template
residues' backbone (N, CA, C, O, and CB where the query residue has one: copied from the
template, or built from the backbone when the template residue is a glycine) is copied
onto the query's residues.

- variant ``"profile"``: the alignment is the one hmmsearch or HHsearch made (the query
  profile's match states are the query's residues), so the MSA's information decides it;
- variant ``"pairwise"``: a fresh global alignment of the query to the template's
  observed residues (Bio.Align.PairwiseAligner, BLOSUM62, gap open 11 / extend 1, free
  end gaps).

Query residues without an aligned template residue get a CA only, placed by linear
interpolation between the neighbouring aligned CAs (or extended at 3.8 Å steps from a
chain end), with confidence below 30, so every model has the query's full sequence.
The score in the B-factor column (an alignment-similarity score, 0-100; not pLDDT) is
35 + 60 x the similarity of the alignment in a window of 11 residues (identity 1,
BLOSUM62-positive 0.5, unaligned 0). ``ranking_confidence`` is the mean confidence, as AlphaFold ranks monomers by pLDDT.

Hits pass AlphaFold 2.3's template prefilter first (``templates._assess_hhsearch_hit``):
a template is rejected when it aligns to 10 % of the query or less, when its aligned
sequence is a subsequence of the query longer than 95 % of it (a duplicate: the query's
own PDB entry), or when fewer than 10 of its residues align. A model whose template
covers less than :data:`LOW_COVERAGE` of the query says so (``low_coverage``). With no
usable template at all, :func:`placeholder` gives the query's CA trace laid out straight
at 3.8 Å steps, confidence 0: the step still hands on a model, and everything that
shows it says that no template was found and that it is not a prediction.

Multimer: each chain is modelled from its own hits; when one PDB entry offers a distinct
hit chain for every query chain, the chains keep that entry's relative placement.
Otherwise the chains are modelled independently and set apart along x, and a REMARK says
their relative placement is arbitrary.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np
from Bio import SearchIO
from Bio.Align import PairwiseAligner, substitution_matrices

from foldline.steps.engines import templates
from foldline.steps.engines.alignments import read_stockholm
from foldline.steps.engines.msa_search import TEMPLATE_HITS, chain_letter, template_cutoff

ENGINE = "template-cpu"
#: HHsearch's template hits, as AlphaFold's monomer data pipeline names them
HHSEARCH_HITS = "pdb_hits.hhr"
VARIANTS = ("profile", "pairwise")
MAX_MODELS = 5  # AlphaFold writes five models
WINDOW = 5  # confidence window: residue +- 5
GAP_CONFIDENCE = 20.0  # CA interpolated between aligned residues
END_CONFIDENCE = 10.0  # CA extended beyond the first/last aligned residue
CA_STEP = 3.8  # Å between consecutive CAs
CHAIN_SPACING = 60.0  # Å between chains placed without a multi-chain template
#: AlphaFold 2.3's TemplateHitFeaturizer prefilter (templates.py): min_align_ratio,
#: max_subsequence_ratio, and the shortest template sequence it keeps
MIN_ALIGN_RATIO = 0.1
MAX_SUBSEQUENCE_RATIO = 0.95
MIN_TEMPLATE_LENGTH = 10
#: below this share of query residues with a template residue, a model is "low coverage"
LOW_COVERAGE = 0.5
NO_TEMPLATE = "none"

_BLOSUM62 = substitution_matrices.load("BLOSUM62")
_THREE = {one: gemmi.expand_one_letter(one, gemmi.ResidueKind.AA) for one in "ACDEFGHIKLMNPQRSTVWY"}
_BACKBONE = ("N", "CA", "C", "O")


@dataclass
class ModelPrediction:
    pdb_text: str
    plddt: list[float]  # per residue, all chains in order
    template: str  # template chain(s), e.g. "6kwc_A" or "4i6p_A,4i6p_B"
    identity: float  # identical / aligned residue pairs, 0-1
    ranking_confidence: float
    engine: str = ENGINE
    variant: str = ""
    coverage: float = 0.0  # aligned query residues / query residues
    notes: list[str] = field(default_factory=list)

    @property
    def low_coverage(self) -> bool:
        return self.coverage < LOW_COVERAGE

    def record(self) -> dict:
        """What the step manifest and the report say about this model."""
        return {
            "template": self.template,
            "identity": round(self.identity, 4),
            "coverage": round(self.coverage, 4),
            "low_coverage": self.low_coverage,
            "no_template": self.template == NO_TEMPLATE,
            "score": "alignment similarity (0-100) in the B-factor column: not pLDDT",
        }


@dataclass
class _Hit:
    name: templates.HitName
    row: str  # the hit's row in pdb_hits.sto


@dataclass
class _ChainModel:
    sequence: str
    coords: list[dict[str, np.ndarray]]  # per query residue: atom name -> xyz
    confidence: list[float]
    identity: float
    coverage: float
    template: str
    offset: np.ndarray | None = None  # translation applied when written (see multimer)


# ----------------------------------------------------------------------------- templates
@functools.lru_cache(maxsize=64)
def _template_structure(cif_path: Path) -> gemmi.Structure:
    st = gemmi.read_structure(str(cif_path))
    st.remove_alternative_conformations()
    st.remove_hydrogens()
    st.remove_ligands_and_waters()
    st.remove_empty_chains()
    return st


def _template_residues(mmcif_dir: Path, hit: templates.HitName) -> list[gemmi.Residue] | None:
    path = mmcif_dir / f"{hit.pdb_id}.cif"
    if not path.is_file():
        return None
    model = _template_structure(path)[0]
    for chain in model:
        if chain.name == hit.chain:
            residues = [r for r in chain if r.find_atom("CA", "*") is not None]
            return residues or None
    return None


def _has_hits(folder: Path) -> bool:
    return (folder / TEMPLATE_HITS).is_file() or (folder / HHSEARCH_HITS).is_file()


def _hits(
    msa_dir: Path, mmcif_dir: Path, cutoff, query: str = "", rejected: list[str] | None = None
) -> list[_Hit]:
    """Usable template hits, best first; with ``rejected`` (a list to fill) AlphaFold's
    prefilter applies to ``query`` and each rejection is recorded there."""
    path = msa_dir / TEMPLATE_HITS
    if not path.is_file() and (msa_dir / HHSEARCH_HITS).is_file():
        return _hhsearch_hits(msa_dir / HHSEARCH_HITS, mmcif_dir, cutoff, query, rejected)
    if not path.is_file() or not path.read_text().strip():
        return []
    alignment = read_stockholm(path)
    alignment, _ = templates.drop_late_templates(alignment, mmcif_dir, cutoff)
    found: list[_Hit] = []
    seen: set[str] = set()
    for name, description, row in zip(alignment.names, alignment.descriptions, alignment.rows):
        if "mol:na" in description:
            continue  # AlphaFold skips nucleic-acid chains too
        parsed = templates.parse_hit_name(name, description)
        if parsed is None or parsed.template in seen:
            continue
        if _template_residues(mmcif_dir, parsed) is None:
            continue
        hit = _Hit(parsed, _with_reference(row, alignment.reference))
        if rejected is not None and (why := prefilter_rejection(query, hit.row)):
            rejected.append(f"{parsed.template}: {why}")
            continue
        seen.add(parsed.template)
        found.append(hit)
    return found


def prefilter_rejection(query: str, row: str) -> str | None:
    """Why AlphaFold's template prefilter rejects a hit (its row in query columns:
    upper case or '-' = match, lower case = a template residue inserted), or None."""
    aligned = sum(1 for c in row if c.isupper())
    template = "".join(c.upper() for c in row if c.isalpha())
    if aligned / len(query) <= MIN_ALIGN_RATIO:
        return f"aligns {aligned} of {len(query)} query residues (AlphaFold rejects <= {MIN_ALIGN_RATIO:.0%})"
    if template in query and len(template) / len(query) > MAX_SUBSEQUENCE_RATIO:
        return (
            "a duplicate of the query (its sequence is the query's over "
            f"{len(template) / len(query):.0%} of it; AlphaFold rejects such hits)"
        )
    if len(template) < MIN_TEMPLATE_LENGTH:
        return f"only {len(template)} template residues align (AlphaFold keeps >= {MIN_TEMPLATE_LENGTH})"
    return None


def _hhsearch_hits(
    path: Path, mmcif_dir: Path, cutoff, query: str = "", rejected: list[str] | None = None
) -> list[_Hit]:
    """The hits of HHsearch's ``.hhr``, best first, each as a row in the query's columns
    (the encoding :func:`_with_reference` gives hmmsearch's rows)."""
    if not path.read_text().strip():
        return []
    result = SearchIO.read(path, "hhsuite3-text")
    found: list[_Hit] = []
    for hit in result:  # one Hit per template chain, its best alignment first
        if "mol:na" in hit.description:
            continue
        hsp = hit.hsps[0]
        length = re.search(r"length:(\d+)", hit.description)
        parsed = templates.parse_hit_name(hit.id)
        if parsed is None:
            continue
        name = templates.HitName(
            parsed.pdb_id,
            parsed.chain,
            hsp.hit_start + 1,
            hsp.hit_end,
            int(length.group(1)) if length else None,
        )
        released = templates.release_date(mmcif_dir / f"{name.pdb_id}.cif")
        if released is not None and released > cutoff:
            continue
        if _template_residues(mmcif_dir, name) is None:
            continue
        row = ["-" * hsp.query_start]
        for q, t in zip(str(hsp.query.seq), str(hsp.hit.seq)):
            if q != "-":
                row.append(t.upper() if t != "-" else "-")
            elif t != "-":
                row.append(t.lower())  # a template residue the query has no column for
        row.append("-" * (result.seq_len - hsp.query_end))
        hit = _Hit(name, "".join(row))
        if rejected is not None and (why := prefilter_rejection(query, hit.row)):
            rejected.append(f"{name.template}: {why}")
            continue
        found.append(hit)
    return found


def _with_reference(row: str, reference: str | None) -> str:
    """Encode match columns in the row itself: upper case or '-' = match; else insert."""
    if reference is None:
        return row
    return "".join(
        c if ref == "x" else ("." if c == "-" else c.lower()) for c, ref in zip(row, reference)
    )


# ----------------------------------------------------------------------------- alignment
def _profile_mapping(
    query: str, hit: _Hit, residues: list[gemmi.Residue]
) -> dict[int, gemmi.Residue] | None:
    """Query index -> template residue from the hmmsearch row (match columns = query)."""
    matches = sum(1 for c in hit.row if c == "-" or c.isupper())
    if matches != len(query):
        return None  # not a profile of this query: the caller falls back to pairwise
    by_seq = {r.label_seq: r for r in residues if r.label_seq is not None}
    if not by_seq:
        return None
    mapping: dict[int, gemmi.Residue] = {}
    query_index, template_pos = -1, hit.name.start
    for c in hit.row:
        if c == ".":
            continue
        if c == "-" or c.isupper():
            query_index += 1
            if c != "-":
                residue = by_seq.get(template_pos)
                if residue is not None:
                    mapping[query_index] = residue
                template_pos += 1
        else:  # residue inserted in the template relative to the query profile
            template_pos += 1
    return mapping


@functools.lru_cache(maxsize=1)
def _aligner() -> PairwiseAligner:
    aligner = PairwiseAligner(
        mode="global", substitution_matrix=_BLOSUM62, open_gap_score=-11, extend_gap_score=-1
    )
    aligner.end_gap_score = 0  # overhangs cost nothing: query and template differ in length
    return aligner


def _pairwise_mapping(query: str, residues: list[gemmi.Residue]) -> dict[int, gemmi.Residue]:
    template = "".join(
        gemmi.find_tabulated_residue(r.name).one_letter_code.upper()
        if gemmi.find_tabulated_residue(r.name)
        else "X"
        for r in residues
    )
    template = template.replace(" ", "X")
    alignment = _aligner().align(query, template)[0]
    mapping = {}
    for (q0, q1), (t0, t1) in zip(*alignment.aligned):
        for offset in range(q1 - q0):
            mapping[q0 + offset] = residues[t0 + offset]
    return mapping


# ----------------------------------------------------------------------------- modelling
def _one_letter(residue: gemmi.Residue) -> str:
    info = gemmi.find_tabulated_residue(residue.name)
    return info.one_letter_code.upper() if info is not None else "X"


def _ideal_cb(n: np.ndarray, ca: np.ndarray, c: np.ndarray) -> np.ndarray:
    """CB from the backbone (the standard tetrahedral construction)."""
    b, c_ = ca - n, c - ca
    a = np.cross(b, c_)
    return -0.58273431 * a + 0.56802827 * b - 0.54067466 * c_ + ca


def _pair_score(q: str, t: str) -> float:
    if q == t:
        return 1.0
    try:
        return 0.5 if _BLOSUM62[q][t] > 0 else 0.0
    except (KeyError, IndexError):
        return 0.0


def _model_chain(query: str, mapping: dict[int, gemmi.Residue], template: str) -> _ChainModel:
    n = len(query)
    scores = np.zeros(n)
    coords: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for i, residue in mapping.items():
        scores[i] = _pair_score(query[i], _one_letter(residue))
        atoms = {
            name: np.array(residue.find_atom(name, "*").pos.tolist())
            for name in _BACKBONE
            if residue.find_atom(name, "*") is not None
        }
        if query[i] != "G" and {"N", "CA", "C"} <= atoms.keys():
            cb = residue.find_atom("CB", "*")
            atoms["CB"] = (
                np.array(cb.pos.tolist())
                if cb is not None
                else _ideal_cb(atoms["N"], atoms["CA"], atoms["C"])
            )
        coords[i] = atoms
    kernel = np.ones(2 * WINDOW + 1)
    window = np.convolve(scores, kernel, "same") / np.convolve(np.ones(n), kernel, "same")
    confidence = np.where([i in mapping for i in range(n)], 35.0 + 60.0 * window, 0.0)
    _fill_unaligned(coords, confidence)
    identical = sum(query[i] == _one_letter(r) for i, r in mapping.items())
    return _ChainModel(
        query,
        coords,
        [round(float(x), 2) for x in confidence],
        identical / len(mapping) if mapping else 0.0,
        len(mapping) / n,
        template,
    )


def _fill_unaligned(coords: list[dict[str, np.ndarray]], confidence: np.ndarray) -> None:
    """Give every residue without a template residue a CA (interpolated or extended)."""
    anchors = [i for i, atoms in enumerate(coords) if "CA" in atoms]
    if not anchors:
        raise ValueError("no aligned residue")
    for left, right in itertools.pairwise(anchors):
        for i in range(left + 1, right):
            f = (i - left) / (right - left)
            coords[i] = {"CA": (1 - f) * coords[left]["CA"] + f * coords[right]["CA"]}
            confidence[i] = GAP_CONFIDENCE
    _extend(coords, confidence, anchors[0], -1)
    _extend(coords, confidence, anchors[-1], +1)


def _extend(coords, confidence, anchor: int, step: int) -> None:
    inner = (
        anchor - step
        if 0 <= anchor - step < len(coords) and "CA" in coords[anchor - step]
        else None
    )
    direction = (
        (coords[anchor]["CA"] - coords[inner]["CA"])
        if inner is not None
        else np.array([1.0, 0.0, 0.0]) * step
    )
    direction = direction / (np.linalg.norm(direction) or 1.0)
    i, k = anchor + step, 1
    while 0 <= i < len(coords):
        coords[i] = {"CA": coords[anchor]["CA"] + direction * CA_STEP * k}
        confidence[i] = END_CONFIDENCE
        i, k = i + step, k + 1


def _mapping(query: str, hit: _Hit, residues, variant: str, notes: list[str]):
    if variant == "profile":
        mapping = _profile_mapping(query, hit, residues)
        if mapping is not None:
            return mapping
        notes.append(
            f"{hit.name.template}: hit row is not a profile of the query; aligned pairwise instead"
        )
    return _pairwise_mapping(query, residues)


# ----------------------------------------------------------------------------- output
def _pdb_text(chains: list[_ChainModel], remarks: list[str]) -> str:
    st = gemmi.Structure()
    st.name = "template-cpu"
    model = gemmi.Model("1")
    for index, chain_model in enumerate(chains):
        chain = gemmi.Chain(chain_letter(index))
        offset = np.zeros(3) if chain_model.offset is None else chain_model.offset
        for i, letter in enumerate(chain_model.sequence):
            residue = gemmi.Residue()
            residue.name = _THREE.get(letter, "UNK")
            residue.seqid = gemmi.SeqId(i + 1, " ")
            residue.entity_type = gemmi.EntityType.Polymer
            for name in ("N", "CA", "C", "O", "CB"):
                if name not in chain_model.coords[i]:
                    continue
                atom = gemmi.Atom()
                atom.name = name
                atom.element = gemmi.Element(name[0])
                atom.pos = gemmi.Position(*(chain_model.coords[i][name] + offset))
                atom.b_iso = chain_model.confidence[i]
                atom.occ = 1.0
                residue.add_atom(atom)
            chain.add_residue(residue)
        model.add_chain(chain)
    st.add_model(model)
    st.setup_entities()
    options = gemmi.PdbWriteOptions()
    options.minimal_file = True
    options.cryst1_record = False  # a model has no crystal cell
    body = st.make_pdb_string(options)
    header = "".join(f"REMARK 250 {line}\n" for line in remarks)
    return header + body


def _chain_models(
    query: str, hits: list[_Hit], mmcif_dir: Path, variant: str, notes: list[str]
) -> list[_ChainModel]:
    models = []
    for hit in hits[:MAX_MODELS]:
        residues = _template_residues(mmcif_dir, hit.name)
        mapping = _mapping(query, hit, residues, variant, notes)
        if mapping:
            models.append(_model_chain(query, mapping, hit.name.template))
    return models


def _prediction(
    chains: list[_ChainModel], variant: str, placement: str, notes: list[str]
) -> ModelPrediction:
    plddt = [x for c in chains for x in c.confidence]
    aligned = sum(c.coverage * len(c.sequence) for c in chains)
    identity = (
        sum(c.identity * c.coverage * len(c.sequence) for c in chains) / aligned if aligned else 0.0
    )
    coverage = aligned / sum(len(c.sequence) for c in chains)
    template = ",".join(c.template for c in chains)
    if all(c.template == NO_TEMPLATE for c in chains):
        template = NO_TEMPLATE
    ranking = float(np.mean(plddt))
    if 0 < coverage < LOW_COVERAGE:
        notes = [
            *notes,
            (
                f"LOW COVERAGE: the template covers {coverage:.0%} of the query; the rest "
                "is an interpolated CA trace"
            ),
        ]
    remarks = (
        [
            (
                f"ENGINE {ENGINE} (foldline CPU stand-in: template-based model, not AlphaFold or "
                "OpenFold)"
            ),
            f"VARIANT {variant}",
            f"TEMPLATE {template}",
            f"IDENTITY {identity:.3f} COVERAGE {coverage:.3f} RANKING_CONFIDENCE {ranking:.2f}",
            "B-FACTOR per-residue alignment-similarity score 0-100 (not pLDDT)",
            "UNALIGNED residues: CA only, interpolated/extended, confidence < 30",
        ]
        + ([placement] if placement else [])
        + list(notes)
    )
    return ModelPrediction(
        _pdb_text(chains, remarks),
        plddt,
        template,
        identity,
        ranking,
        variant=variant,
        coverage=coverage,
        notes=list(notes),
    )


def _complexes(per_chain_hits: list[list[_Hit]]) -> list[list[_Hit]]:
    """Entries that offer a distinct hit chain for every query chain, best entry first."""
    entries: list[str] = []
    for hits in per_chain_hits:
        for hit in hits:
            if hit.name.pdb_id not in entries:
                entries.append(hit.name.pdb_id)
    found = []
    for entry in entries:
        used: set[str] = set()
        choice: list[_Hit] = []
        for hits in per_chain_hits:
            pick = next(
                (h for h in hits if h.name.pdb_id == entry and h.name.chain not in used), None
            )
            if pick is None:
                break
            used.add(pick.name.chain)
            choice.append(pick)
        if len(choice) == len(per_chain_hits):
            found.append(choice)
    return found


def predict(
    chains,
    msa_dir: Path,
    db_dir: Path,
    *,
    variant: str,
    max_template_date: str,
    rejections: list[str] | None = None,
) -> list[ModelPrediction]:
    """Template-based models of ``chains`` from the hits in ``msa_dir``, best first.

    ``msa_dir`` is the MSA step's ``msas/`` folder (monomer: ``pdb_hits.sto`` or
    ``pdb_hits.hhr`` in it; multimer: ``<chain letter>/pdb_hits.sto``). Returns an empty list when a chain has no
    usable template (the caller reports that: see :func:`placeholder`); ``rejections``, if
    given, receives each hit AlphaFold's prefilter rejected, and why. See the module
    docstring for the method.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    msa_dir, db_dir = Path(msa_dir), Path(db_dir)
    mmcif_dir = db_dir / "pdb_mmcif" / "mmcif_files"
    cutoff = template_cutoff(max_template_date)
    chains = list(chains)
    rejected = [] if rejections is None else rejections
    if len(chains) == 1:
        notes: list[str] = []
        folder = msa_dir if _has_hits(msa_dir) else msa_dir / "A"
        hits = _hits(folder, mmcif_dir, cutoff, chains[0].sequence, rejected)
        models = _chain_models(chains[0].sequence, hits, mmcif_dir, variant, notes)
        predictions = [_prediction([m], variant, "", notes) for m in models]
    else:
        predictions = _predict_complex(chains, msa_dir, mmcif_dir, cutoff, variant, rejected)
    return sorted(predictions, key=lambda p: p.ranking_confidence, reverse=True)


def placeholder(chains, variant: str, reason: str) -> ModelPrediction:
    """No usable template: each chain's CA trace laid out straight (3.8 Å steps along x,
    chains 60 Å apart), confidence 0. A placeholder that keeps the run going, not a model
    of the fold; its REMARKs and the step manifest say so."""
    models = []
    for index, chain in enumerate(chains):
        n = len(chain.sequence)
        coords = [{"CA": np.array([CA_STEP * i, CHAIN_SPACING * index, 0.0])} for i in range(n)]
        models.append(_ChainModel(chain.sequence, coords, [0.0] * n, 0.0, 0.0, NO_TEMPLATE))
    notes = [
        f"NO TEMPLATE: {reason}; this is a placeholder (a straight CA trace), not a prediction"
    ]
    return _prediction(models, variant, "", notes)


def _predict_complex(
    chains, msa_dir: Path, mmcif_dir: Path, cutoff, variant: str, rejected: list[str]
) -> list[ModelPrediction]:
    per_chain = [
        _hits(msa_dir / chain_letter(i), mmcif_dir, cutoff, c.sequence, rejected)
        for i, c in enumerate(chains)
    ]
    if not all(per_chain):
        return []  # a chain without any usable template cannot be modelled
    predictions = []
    for choice in _complexes(per_chain)[:MAX_MODELS]:
        notes: list[str] = []
        models = []
        for chain, hit in zip(chains, choice):
            residues = _template_residues(mmcif_dir, hit.name)
            mapping = _mapping(chain.sequence, hit, residues, variant, notes)
            if not mapping:
                break
            models.append(_model_chain(chain.sequence, mapping, hit.name.template))
        if len(models) == len(chains):
            entry = choice[0].name.pdb_id
            placement = f"PLACEMENT chains placed as in the multi-chain template {entry}"
            predictions.append(_prediction(models, variant, placement, notes))
    if predictions:
        return predictions
    # no entry holds all chains: model each chain alone, set apart along x
    notes = []
    per_chain_models = [
        _chain_models(c.sequence, h, mmcif_dir, variant, notes) for c, h in zip(chains, per_chain)
    ]
    if not all(per_chain_models):
        return []
    for rank in range(min(len(m) for m in per_chain_models)):
        models = [m[rank] for m in per_chain_models]
        for index, model in enumerate(models):
            centre = np.mean([a["CA"] for a in model.coords], axis=0)
            model.offset = np.array([CHAIN_SPACING * index, 0.0, 0.0]) - centre
        placement = (
            "PLACEMENT no multi-chain template: chains modelled independently; "
            "their relative placement is arbitrary"
        )
        predictions.append(_prediction(models, variant, placement, notes))
    return predictions
