"""Multiple alignments in the Stockholm and A3M dialects that AlphaFold's parsers read.

AlphaFold (``alphafold/data/parsers.py``) keys everything on the first row: columns where
it has ``-`` are insertions, so gaps must be ``-`` (HMMER writes ``.`` in insert columns
of some rows; AlphaFold would read those as residues). Rows are written in one block,
``#=GS <name> DE <description>`` lines first and ``#=GC RF`` last, as jackhmmer writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Alignment:
    names: list[str]
    rows: list[str]  # aligned, all the same width; gaps are "-"
    descriptions: list[str] = field(default_factory=list)
    reference: str | None = None  # "#=GC RF": "x" for model (match) columns, "." else

    def __post_init__(self) -> None:
        if not self.descriptions:
            self.descriptions = [""] * len(self.names)
        widths = {len(row) for row in self.rows}
        if len(widths) > 1:
            raise ValueError(f"rows of different widths: {sorted(widths)}")

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_msa(cls, msa, first: tuple[str, str] | None = None) -> Alignment:
        """From a pyhmmer ``TextMSA``; ``first`` renames row 0 (name, description)."""
        names = [str(n) for n in msa.names]
        rows = [row.replace(".", "-") for row in msa.alignment]
        descriptions = [seq.description or "" for seq in msa.sequences]
        reference = msa.reference if msa.reference else None
        if first is not None:
            names[0], descriptions[0] = first
        return cls(names, rows, descriptions, reference)

    def with_first(self, name: str, description: str) -> Alignment:
        """The same rows, the first one renamed (identical chains share one search)."""
        return Alignment(
            [name] + self.names[1:],
            self.rows,
            [description] + self.descriptions[1:],
            self.reference,
        )

    def truncated(self, max_rows: int | None) -> Alignment:
        """The first ``max_rows`` rows (AlphaFold's ``truncate_stockholm_msa``)."""
        if max_rows is None or len(self) <= max_rows:
            return self
        return Alignment(
            self.names[:max_rows],
            self.rows[:max_rows],
            self.descriptions[:max_rows],
            self.reference,
        )._without_empty_columns()

    def without_rows(self, drop: set[int]) -> Alignment:
        keep = [i for i in range(len(self)) if i not in drop]
        return Alignment(
            [self.names[i] for i in keep],
            [self.rows[i] for i in keep],
            [self.descriptions[i] for i in keep],
            self.reference,
        )._without_empty_columns()

    def _without_empty_columns(self) -> Alignment:
        if not self.rows:
            return self
        width = len(self.rows[0])
        keep = [
            c
            for c in range(width)
            if any(row[c] != "-" for row in self.rows)
            or (self.reference is not None and self.reference[c] == "x")
        ]
        if len(keep) == width:
            return self
        pick = lambda text: "".join(text[c] for c in keep)
        return Alignment(
            self.names,
            [pick(r) for r in self.rows],
            self.descriptions,
            None if self.reference is None else pick(self.reference),
        )

    def query_columns_only(self) -> list[str]:
        """Each row restricted to the first row's residue columns (AlphaFold's MSA rows)."""
        columns = [c for c, letter in enumerate(self.rows[0]) if letter != "-"]
        return ["".join(row[c] for c in columns) for row in self.rows]

    def for_template_search(self) -> Alignment:
        """AlphaFold's ``deduplicate_stockholm_msa`` + ``remove_empty_columns``: the
        alignment it gives ``hmmbuild --hand`` to search pdb_seqres with."""
        seen: set[str] = set()
        keep: list[int] = []
        for i, row in enumerate(self.query_columns_only()):
            if row not in seen:
                seen.add(row)
                keep.append(i)
        dedup = Alignment(
            [self.names[i] for i in keep],
            [self.rows[i] for i in keep],
            [self.descriptions[i] for i in keep],
        )
        # the model's match columns are the query's residues (it was built from the query)
        dedup.reference = "".join("x" if c != "-" else "." for c in dedup.rows[0])
        return dedup._without_empty_columns()

    def to_stockholm(self) -> str:
        width = max([len(n) for n in self.names] + [len("#=GC RF")]) + 1
        lines = ["# STOCKHOLM 1.0", ""]
        for name, description in zip(self.names, self.descriptions):
            if description:
                lines.append(f"#=GS {name.ljust(width)} DE {description}")
        lines.append("")
        for name, row in zip(self.names, self.rows):
            lines.append(f"{name.ljust(width)} {row}")
        if self.reference is not None:
            lines.append(f"{'#=GC RF'.ljust(width)} {self.reference}")
        lines.append("//")
        return "\n".join(lines) + "\n"

    def to_a3m(self) -> str:
        """A3M as HHblits writes it: query columns upper case or ``-``, insertions
        relative to the query in lower case, gaps in insertions dropped."""
        query_columns = [letter != "-" for letter in self.rows[0]]
        out = []
        for name, description, row in zip(self.names, self.descriptions, self.rows):
            letters = []
            for is_query, letter in zip(query_columns, row):
                if is_query:
                    letters.append(letter.upper())
                elif letter != "-":
                    letters.append(letter.lower())
            header = f"{name} {description}".rstrip()
            out.append(f">{header}\n{''.join(letters)}\n")
        return "".join(out)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_a3m() if path.suffix == ".a3m" else self.to_stockholm())


def read_stockholm(path: Path) -> Alignment:
    """Read a Stockholm file (one or several blocks) into an :class:`Alignment`."""
    order: list[str] = []
    parts: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    reference: list[str] = []
    with open(path) as handle:
        for line in handle:
            if line.startswith("#=GS "):
                fields = line[5:].rstrip("\n").split(None, 2)
                if len(fields) == 3 and fields[1] == "DE":
                    descriptions[fields[0]] = fields[2]
                continue
            if line.startswith("#=GC RF"):
                reference.append(line.split()[2])
                continue
            if not line.strip() or line.startswith(("#", "//")):
                continue
            name, aligned = line.split()
            if name not in parts:
                order.append(name)
                parts[name] = []
            parts[name].append(aligned)
    rows = ["".join(parts[n]).replace(".", "-") for n in order]
    return Alignment(
        order,
        rows,
        [descriptions.get(n, "") for n in order],
        "".join(reference) if reference else None,
    )
