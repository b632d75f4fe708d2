"""A large protein database, reproducibly: simulated evolution of a real proteome.

The MMseqs2-vs-jackhmmer benchmark needs a database large enough (>= 1,000,000
sequences) for the ratio of search times to mean something, with homologues at every
distance from the queries, from near-identical to the twilight zone. No such database
can be downloaded here, so one is grown from real proteins:

- roots: the 2,100 real proteins of *938293.PRJEB85.HG003687* that pyhmmer ships in its
  test data (a bacterial proteome, so paralogues and unrelated families both occur);
- each root grows a family: a random recursive tree, each new member the copy of a
  member picked at random (the root included), mutated along a branch of
  ``BRANCH`` substitutions per site: each site changes with probability 1 - e^-d, to a
  residue drawn from BLOSUM62's target frequencies given the old one (its joint
  probabilities q_ab = p_a p_b 2^(S_ab/2), p the proteome's own composition), plus
  insertions and deletions (one per ten substitutions, geometric lengths, mean 3);
- deep members accumulate changes, so a family spans identities from ~95 % to ~20 %
  to its root. The roots themselves are NOT in the database: they are the queries, so a
  query's homologues are its family's members (and whatever real paralogues it has).

Everything draws from one ``numpy.random.Generator(seed)``, so the same arguments give
the same bytes (the file's sha256 goes into the cache name's record). The database is
written to a cache folder (default ``bench/.cache``, git-ignored), never to git.

    python bench/simulated_proteins.py --sequences 1000000 --seed 18
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyhmmer
from Bio import SeqIO
from Bio.Align import substitution_matrices

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
PROTEOME = Path(pyhmmer.__file__).parent / "tests" / "data" / "seqs" / "938293.PRJEB85.HG003687.faa"
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: substitutions per site along one branch of a family tree (uniform in this range)
BRANCH = (0.05, 0.45)
#: indel events per substitution, and the mean indel length (geometric)
INDEL_PER_SUBSTITUTION = 0.1
INDEL_MEAN_LENGTH = 3.0
#: shortest protein kept as a root (shorter ones make few detectable homologues)
MIN_ROOT_LENGTH = 60
GENERATOR_REVISION = 1  # bump when the model changes (the cache name includes it)


@dataclass(frozen=True)
class Root:
    name: str
    sequence: str


def real_roots(proteome: Path = PROTEOME) -> list[Root]:
    """The proteome's proteins made of the 20 amino acids, at least MIN_ROOT_LENGTH long."""
    roots = []
    for record in SeqIO.parse(proteome, "fasta"):
        sequence = str(record.seq).rstrip("*").upper()
        if len(sequence) >= MIN_ROOT_LENGTH and set(sequence) <= set(AMINO_ACIDS):
            roots.append(Root(record.id, sequence))
    return roots


def substitution_model(roots: list[Root]) -> tuple[np.ndarray, np.ndarray]:
    """(background p, P(b | a, b != a)) over AMINO_ACIDS from BLOSUM62 and the roots."""
    counts = np.zeros(20)
    index = {a: i for i, a in enumerate(AMINO_ACIDS)}
    for root in roots:
        for residue in root.sequence:
            counts[index[residue]] += 1
    background = counts / counts.sum()
    blosum = substitution_matrices.load("BLOSUM62")
    scores = np.array([[blosum[a][b] for b in AMINO_ACIDS] for a in AMINO_ACIDS], dtype=float)
    joint = background[:, None] * background[None, :] * np.power(2.0, scores / 2.0)
    np.fill_diagonal(joint, 0.0)
    return background, joint / joint.sum(axis=1, keepdims=True)


class Evolver:
    """Mutates integer-coded sequences (0..19) along branches; one seeded generator."""

    def __init__(self, background: np.ndarray, change: np.ndarray, rng: np.random.Generator):
        self.background = background
        self.cumulative = np.cumsum(change, axis=1)
        self.cumulative[:, -1] = 1.0
        self.rng = rng

    def mutate(self, parent: np.ndarray, distance: float) -> np.ndarray:
        rng = self.rng
        child = parent.copy()
        changed = np.flatnonzero(rng.random(len(child)) < -np.expm1(-distance))
        if len(changed):
            draws = rng.random(len(changed))
            rows = self.cumulative[child[changed]]
            child[changed] = (rows < draws[:, None]).sum(axis=1)
        events = rng.poisson(INDEL_PER_SUBSTITUTION * len(changed))
        for _ in range(events):
            length = int(rng.geometric(1.0 / INDEL_MEAN_LENGTH))
            at = int(rng.integers(0, len(child) + 1))
            if rng.random() < 0.5 and len(child) - length >= MIN_ROOT_LENGTH // 2:
                child = np.concatenate((child[:at], child[at + length :]))
            else:
                inserted = rng.choice(20, size=length, p=self.background)
                child = np.concatenate((child[:at], inserted, child[at:]))
        return child


def cache_path(sequences: int, seed: int, cache: Path = CACHE) -> Path:
    return cache / f"simulated_{sequences}_seed{seed}_r{GENERATOR_REVISION}.fasta"


def generate(sequences: int, seed: int, out: Path, roots: list[Root] | None = None) -> dict:
    """Write ``sequences`` simulated proteins to ``out``; returns the record (also written
    beside it as ``<out>.json``). Members are spread evenly over the roots' families."""
    roots = roots if roots is not None else real_roots()
    background, change = substitution_model(roots)
    rng = np.random.default_rng(seed)
    evolver = Evolver(background, change, rng)
    code = np.frombuffer(AMINO_ACIDS.encode(), dtype=np.uint8)
    lookup = np.zeros(256, dtype=np.int64)
    lookup[code] = np.arange(20)
    per_family = [sequences // len(roots) + (i < sequences % len(roots)) for i in range(len(roots))]
    started = time.perf_counter()
    residues = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    digest = hashlib.sha256()
    with open(partial, "w") as handle:
        for root, count in zip(roots, per_family):
            members = [lookup[np.frombuffer(root.sequence.encode(), dtype=np.uint8)]]
            depth = [0.0]
            lines = []
            for k in range(count):
                parent = int(rng.integers(0, len(members)))
                branch = float(rng.uniform(*BRANCH))
                child = evolver.mutate(members[parent], branch)
                members.append(child)
                depth.append(depth[parent] + branch)
                residues += len(child)
                lines.append(
                    f">{root.name}|sim{k} d={depth[-1]:.2f}\n{code[child].tobytes().decode()}\n"
                )
            text = "".join(lines)
            digest.update(text.encode())
            handle.write(text)
    partial.replace(out)
    record = {
        "path": str(out),
        "sequences": sequences,
        "residues": residues,
        "seed": seed,
        "families": len(roots),
        "proteome": PROTEOME.name,
        "generator_revision": GENERATOR_REVISION,
        "branch_substitutions_per_site": list(BRANCH),
        "sha256": digest.hexdigest(),
        "bytes": out.stat().st_size,
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(f"{out}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def ensure(sequences: int, seed: int, cache: Path = CACHE) -> dict:
    """The cached database of these arguments, generated if missing."""
    out = cache_path(sequences, seed, cache)
    meta = Path(f"{out}.json")
    if out.is_file() and meta.is_file():
        # where the file is now (a cache copied from elsewhere records its old path)
        return {**json.loads(meta.read_text()), "path": str(out)}
    return generate(sequences, seed, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    print(json.dumps(ensure(args.sequences, args.seed, args.cache), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
