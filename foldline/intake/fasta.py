"""FASTA intake: parse with Bio.SeqIO, normalise, validate, decide.

One validator serves the start function, ``foldline validate`` and ``foldline submit``,
so a file is judged the same way wherever it enters. Every rejection carries a stable
``code`` (for metrics and tests) and a ``message`` a person can act on.
"""

from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass, field

from Bio import SeqIO

from foldline.spec.layout import FASTA_SUFFIXES, has_fasta_suffix, is_input_key

#: the 20 standard amino acids plus X (unknown), as AlphaFold accepts them
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWY") | {"X"}
_NUCLEOTIDE_LETTERS = frozenset("ACGTUN")
#: a chain written only in nucleotide codes is read as DNA/RNA when it uses at least this
#: many of the four bases (A, C, G, T/U): poly-GA or poly-A repeat proteins use fewer
_NUCLEOTIDE_MIN_BASES = 3
_SHOWN_PROBLEMS = 10  # letters/positions listed in a reason before "and N more"
#: longest record id (the header's first word): OpenFold names its folders and output
#: files after it, and a file name stops at 255 bytes
MAX_RECORD_ID_LENGTH = 100
#: characters other FASTA readers take for a line break (Python's str.splitlines, which
#: AlphaFold's parser uses, breaks on all of these; Bio.SeqIO only on \n)
_LINE_BREAKERS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BZh", "a bzip2 archive"),
)
_PDB_RECORDS = ("HEADER", "ATOM  ", "HETATM", "REMARK", "CRYST1", "MODEL ", "data_")


@dataclass(frozen=True)
class IntakeLimits:
    """What the start function accepts; each is a stack parameter (environment variable)."""

    min_length: int = 16
    max_total_residues: int = 2500
    max_chains: int = 20
    max_bytes: int = 1_000_000
    #: most sequences in one screening drop (``Mode=screen``): each becomes a run
    max_screen_sequences: int = 200

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> IntakeLimits:
        env = os.environ if env is None else env
        base = cls()
        return cls(
            min_length=int(env.get("FOLDLINE_MIN_LENGTH", base.min_length)),
            max_total_residues=int(env.get("FOLDLINE_MAX_RESIDUES", base.max_total_residues)),
            max_chains=int(env.get("FOLDLINE_MAX_CHAINS", base.max_chains)),
            max_bytes=int(env.get("FOLDLINE_MAX_FASTA_BYTES", base.max_bytes)),
            max_screen_sequences=int(
                env.get("FOLDLINE_MAX_SCREEN_SEQUENCES", base.max_screen_sequences)
            ),
        )


@dataclass(frozen=True)
class Chain:
    id: str
    description: str
    sequence: str  # normalised: upper case, no whitespace
    number: int = 1  # its place in the file (1 = the first record): what reasons name it by

    @property
    def header(self) -> str:
        """The header as the run's FASTA carries it: one line, white space collapsed."""
        return " ".join((self.description or self.id).split())


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class FastaRejected(Exception):
    """Raised by the ``check_*`` helpers; carries the :class:`Rejection`."""

    def __init__(self, rejection: Rejection):
        super().__init__(rejection.message)
        self.rejection = rejection


def _reject(code: str, message: str) -> FastaRejected:
    return FastaRejected(Rejection(code, message))


@dataclass(frozen=True)
class Decision:
    """The outcome of intake: accepted chains and the preset to use, or a rejection."""

    chains: tuple[Chain, ...] = ()
    model_preset: str | None = None
    rejection: Rejection | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return self.rejection is None

    @property
    def total_residues(self) -> int:
        return sum(len(c.sequence) for c in self.chains)

    @property
    def reason(self) -> str | None:
        return None if self.rejection is None else self.rejection.message

    def normalised_fasta(self) -> str:
        """The FASTA the run uses: one header line and one sequence line per record, upper
        case. Every reader (Bio.SeqIO, AlphaFold's ``str.splitlines``, OpenFold's) reads
        exactly these records from it: intake refused headers with line-breaking or
        control characters, and white space in a header is collapsed to single spaces."""
        return "".join(f">{chain.header}\n{chain.sequence}\n" for chain in self.chains)

    def summary(self) -> str:
        if not self.accepted:
            return f"rejected: {self.reason}"
        chains = len(self.chains)
        return (
            f"accepted: {chains} chain{'s' if chains != 1 else ''}, "
            f"{self.total_residues} residues, preset {self.model_preset}"
        )


def check_key(key: str) -> None:
    """An upload must sit under ``inputs/`` and end in a FASTA suffix (any case)."""
    if not is_input_key(key):
        raise _reject("bad_key", f"key {key!r} is not under inputs/; foldline only reads inputs/")
    if not has_fasta_suffix(key):
        raise _reject(
            "bad_suffix",
            f"{key!r} does not end in a FASTA suffix ({' '.join(FASTA_SUFFIXES)}, any case)",
        )


def check_size(size: int, limits: IntakeLimits) -> None:
    """Judge the object size before anything reads the file."""
    if size == 0:
        raise _reject("empty", "the file is empty")
    if size > limits.max_bytes:
        raise _reject(
            "too_large",
            f"the file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes",
        )


def _decode(data: bytes) -> str:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _reject("not_fasta", f"not FASTA: the file is {what}")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[1:200:2].count(b"\x00") > 10
    if utf16:
        raise _reject("not_fasta", "not FASTA: the file is UTF-16 text; save it as ASCII/UTF-8")
    if b"\x00" in data[:4096]:
        raise _reject("not_fasta", "not FASTA: the file is binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _reject("not_fasta", "not FASTA: the file is not text (not UTF-8)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _positions(sequence: str, letters: set[str]) -> str:
    found = [
        f"{letter if letter.isalpha() else repr(letter)} at {i}"
        for i, letter in enumerate(sequence, 1)
        if letter in letters
    ]
    shown = ", ".join(found[:_SHOWN_PROBLEMS])
    more = len(found) - _SHOWN_PROBLEMS
    return shown + (f" and {more} more" if more > 0 else "")


def _parse(text: str) -> list[Chain]:
    stripped = text.lstrip()
    if not stripped:
        raise _reject("empty", "the file holds only whitespace")
    if not stripped.startswith(">"):
        first = stripped.splitlines()[0]
        if first.startswith(_PDB_RECORDS):
            raise _reject("not_fasta", "not FASTA: this looks like a PDB/mmCIF structure file")
        # the line itself is not quoted: it may be the user's sequence (a missing
        # header), and rejection reasons reach logs and notices
        raise _reject(
            "not_fasta",
            "not FASTA: the first line must start with '>' (a header such as '>my_protein'); "
            "this file's does not",
        )
    try:
        records = list(SeqIO.parse(io.StringIO(stripped), "fasta"))
    except ValueError as err:  # Bio.SeqIO's own complaint
        raise _reject("not_fasta", f"not FASTA: {str(err)[:200]}") from None
    if not records:
        raise _reject("empty", "the file has no FASTA records")
    chains = []
    for number, record in enumerate(records, 1):
        # Bio.Seq keeps the letters as UTF-8 bytes and its str() insists on ASCII: read
        # them back as text, so a letter outside ASCII is reported, not a crash
        sequence = "".join(bytes(record.seq).decode("utf-8", "replace").split()).upper()
        chains.append(Chain(record.id, record.description, sequence, number))
    return chains


def _character_name(char: str) -> str:
    return f"U+{ord(char):04X}" + (
        f" {unicodedata.name(char)}" if unicodedata.name(char, "") else ""
    )


def _check_header(chain: Chain) -> None:
    """Headers reach other programs' parsers and people's e-mail: nothing in them may
    start a new line for one reader and not for another, or steer a terminal.

    The header itself is never quoted (it may hold anything, a sequence included):
    the reason names the record by its place and the character by its code point.
    """
    for column, char in enumerate(chain.description, 2):  # column 1 is the '>'
        if char in _LINE_BREAKERS or unicodedata.category(char) in ("Zl", "Zp"):
            raise _reject(
                "bad_header",
                f"record {chain.number}'s header holds {_character_name(char)} at column "
                f"{column}, which other FASTA readers (AlphaFold's among them) take for a "
                "line break; remove it",
            )
        if unicodedata.category(char) == "Cc" and char != "\t":
            raise _reject(
                "bad_header",
                f"record {chain.number}'s header holds the control character "
                f"{_character_name(char)} at column {column}; remove it",
            )
    if len(chain.id) > MAX_RECORD_ID_LENGTH:
        raise _reject(
            "long_id",
            f"record {chain.number}'s id (the header's first word) is {len(chain.id):,} "
            f"characters long; the limit is {MAX_RECORD_ID_LENGTH}",
        )


def _is_nucleotide(letters: set[str]) -> bool:
    """Nucleotide codes only (no letter beyond ACGTUN), and at least three of the four
    bases (T and U count as one): a protein written in fewer letters that happen to be
    base codes (a poly-GA or poly-A repeat) stays a protein."""
    if not letters <= _NUCLEOTIDE_LETTERS:
        return False
    bases = {"T" if letter == "U" else letter for letter in letters - {"N"}}
    return len(bases) >= _NUCLEOTIDE_MIN_BASES


def _check_chains(chains: list[Chain], limits: IntakeLimits) -> None:
    if len(chains) > limits.max_chains:
        raise _reject(
            "too_many_chains",
            f"{len(chains)} chains; the limit is {limits.max_chains}",
        )
    for chain in chains:
        _check_header(chain)
    first_with: dict[str, int] = {}
    for chain in chains:
        if chain.id in first_with:
            raise _reject(
                "duplicate_ids",
                f"records {first_with[chain.id]} and {chain.number} have the same id "
                "(the header's first word); each record needs its own",
            )
        first_with[chain.id] = chain.number
    for chain in chains:
        name = f"record {chain.number}"
        if not chain.sequence:
            raise _reject("empty_record", f"{name} has a header but no sequence")
        letters = set(chain.sequence)
        if _is_nucleotide(letters):
            kind = "RNA" if "U" in letters else "DNA"
            raise _reject(
                "nucleotide",
                f"{name} looks like a nucleotide ({kind}) sequence; "
                "foldline folds protein sequences",
            )
        bad = letters - PROTEIN_LETTERS
        if bad:
            shown = sorted(bad)[:_SHOWN_PROBLEMS]
            listed = " ".join(repr(b) for b in shown)
            if len(bad) > len(shown):
                listed += f" and {len(bad) - len(shown)} more"
            raise _reject(
                "invalid_letters",
                f"{name} has letters outside the 20 amino acids and X ({listed}): "
                f"{_positions(chain.sequence, bad)}",
            )
        if len(chain.sequence) < limits.min_length:
            raise _reject(
                "too_short",
                f"{name} has {len(chain.sequence)} residues; the minimum is {limits.min_length}",
            )
    total = sum(len(c.sequence) for c in chains)
    if total > limits.max_total_residues:
        raise _reject(
            "too_long",
            f"{total:,} residues in total; the limit is {limits.max_total_residues:,}",
        )


def _preset(chains: list[Chain], pinned: str | None) -> str:
    if pinned is None:
        return "multimer" if len(chains) > 1 else "monomer"
    if pinned != "multimer" and len(chains) > 1:
        raise _reject(
            "preset_mismatch",
            f"ModelPreset {pinned} folds one chain; this file has {len(chains)} "
            "(use multimer, or leave ModelPreset unset)",
        )
    return pinned


def decide(
    data: bytes, limits: IntakeLimits | None = None, pinned_preset: str | None = None
) -> Decision:
    """Judge a FASTA file's bytes; never raises for bad input."""
    limits = limits or IntakeLimits()
    try:
        check_size(len(data), limits)
        chains = _parse(_decode(data))
        _check_chains(chains, limits)
        preset = _preset(chains, pinned_preset)
    except FastaRejected as rejected:
        return Decision(rejection=rejected.rejection)
    return Decision(chains=tuple(chains), model_preset=preset)


@dataclass(frozen=True)
class RecordDecision:
    """One record of a screening drop, judged as a one-chain file of its own."""

    chain: Chain
    decision: Decision


def decide_each_record(
    data: bytes, limits: IntakeLimits | None = None, pinned_preset: str | None = None
) -> tuple[list[RecordDecision], Rejection | None]:
    """Judge a multi-FASTA record by record (screening: each record is a run of its own).

    What sinks the whole file is returned as a Rejection (not FASTA, binary, empty, too
    many bytes, more records than ``limits.max_screen_sequences``); a record that fails
    the one-chain rules (letters, length, header, a repeated id) is judged refused on its
    own, with the same reasons a file of that record alone would get, and the other
    records stand. Never raises for bad input.
    """
    limits = limits or IntakeLimits()
    try:
        check_size(len(data), limits)
        chains = _parse(_decode(data))
        if len(chains) > limits.max_screen_sequences:
            raise _reject(
                "too_many_sequences",
                f"{len(chains):,} sequences in one screening drop; the limit is "
                f"{limits.max_screen_sequences:,} (split the file, or raise the stack's "
                "FoldlineMaxScreenSequences)",
            )
    except FastaRejected as rejected:
        return [], rejected.rejection
    judged: list[RecordDecision] = []
    first_with: dict[str, int] = {}
    for chain in chains:
        try:
            if chain.id in first_with:
                raise _reject(
                    "duplicate_ids",
                    f"record {chain.number} has the same id (the header's first word) as "
                    f"record {first_with[chain.id]}; each record needs its own",
                )
            first_with[chain.id] = chain.number
            _check_chains([chain], limits)
            decision = Decision(chains=(chain,), model_preset=_preset([chain], pinned_preset))
        except FastaRejected as rejected:
            decision = Decision(rejection=rejected.rejection)
        judged.append(RecordDecision(chain, decision))
    return judged, None


def _check_local_file(path: str, limits: IntakeLimits) -> None:
    """What the start function checks of an upload before it reads it: size, suffix."""
    check_size(os.path.getsize(path), limits)
    if not has_fasta_suffix(path):
        raise _reject(
            "bad_suffix",
            f"{os.path.basename(path)!r} does not end in a FASTA suffix "
            f"({' '.join(FASTA_SUFFIXES)}, any case)",
        )


def decide_file(path: str, limits: IntakeLimits | None = None) -> Decision:
    """Judge a local file, checking its size before reading it."""
    limits = limits or IntakeLimits()
    try:
        _check_local_file(path, limits)
    except FastaRejected as rejected:
        return Decision(rejection=rejected.rejection)
    with open(path, "rb") as handle:
        return decide(handle.read(), limits)


def decide_file_records(
    path: str, limits: IntakeLimits | None = None
) -> tuple[list[RecordDecision], Rejection | None]:
    """Judge a local file as a screening drop (:func:`decide_each_record`), checking its
    size before reading it."""
    limits = limits or IntakeLimits()
    try:
        _check_local_file(path, limits)
    except FastaRejected as rejected:
        return [], rejected.rejection
    with open(path, "rb") as handle:
        return decide_each_record(handle.read(), limits)
