#!/usr/bin/env bash
# Make a pdb70-style HH-suite database from a PDB seqres FASTA, with Debian's hhsuite tools
# (run inside the MSA image): one single-sequence A3M per protein chain, named as pdb70
# names its entries (<pdb id>_<chain>, which AlphaFold's HHsearch featurizer maps to
# <pdb id>.cif), then the _a3m and _hhm ffindex databases HHsearch reads, and the
# _cs219 column-state sequences it also opens.
#   make_pdb70.sh SEQRES_FASTA OUT_PREFIX        e.g. .../pdb_seqres.txt .../pdb70/pdb70
# The bundled example databases have no pdb70 (it is 56 GB); this one holds the template
# library's own chains, so the monomer presets' template search runs for real on them.
set -euo pipefail
seqres="$1"
prefix="$2"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
mkdir -p "${work}/a3m" "$(dirname "${prefix}")"
awk -v dir="${work}/a3m" '
  /^>/ { keep = ($0 ~ /mol:protein/); if (keep) { name = substr($1, 2); file = dir "/" name; print > file } next }
  keep { print >> file }' "${seqres}"
rm -f "${prefix}"_*
ffindex_build -s "${prefix}_a3m.ffdata" "${prefix}_a3m.ffindex" "${work}/a3m" >/dev/null
ffindex_apply "${prefix}_a3m.ffdata" "${prefix}_a3m.ffindex" \
  -i "${prefix}_hhm.ffindex" -d "${prefix}_hhm.ffdata" -- hhmake -i stdin -o stdout -v 0 >/dev/null
# Debian's cstranslate wrapper cannot find its own binaries when called by name: call the
# portable build with the context libraries hhsuite-data installs
/usr/libexec/hhsuite/cstranslate-plain -f -x 0.3 -c 4 -I a3m -i "${prefix}_a3m" -o "${prefix}_cs219" \
  -A /usr/share/hhsuite/data/cs219.lib -D /usr/share/hhsuite/data/context_data.lib >/dev/null
echo "$(wc -l < "${prefix}_a3m.ffindex") entries in ${prefix}"
