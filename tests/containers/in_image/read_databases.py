"""Read the bundled databases with AlphaFold's own code (run with the engine's Python, inside
an image); prints JSON.

    read_databases.py mmcif DIR               every DIR/*.cif through mmcif_parsing.parse
    read_databases.py species FASTA           msa_identifiers' species of every record
    read_databases.py pair DB A.fasta B.fasta WORK
        each chain's UniProt search as pipeline_multimer runs it (Jackhmmer over DB,
        DataPipeline._all_seq_msa_features), then msa_pairing.create_paired_features
"""

import glob
import json
import os
import sys

from alphafold.data import mmcif_parsing, msa_identifiers, msa_pairing, parsers


def mmcif(folder):
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.cif"))):
        file_id = os.path.basename(path)[:-4]
        with open(path) as handle:
            result = mmcif_parsing.parse(file_id=file_id, mmcif_string=handle.read())
        parsed = result.mmcif_object
        found[file_id] = {
            "errors": [str(e) for e in result.errors.values()],
            "header": parsed.header if parsed else None,
            "chain_to_seqres": dict(parsed.chain_to_seqres) if parsed else None,
            "observed": (
                {
                    chain: sum(not r.is_missing for r in residues.values())
                    for chain, residues in parsed.seqres_to_structure.items()
                }
                if parsed
                else None
            ),
        }
    return found


def species(fasta):
    with open(fasta) as handle:
        _, descriptions = parsers.parse_fasta(handle.read())
    return [[d, msa_identifiers.get_identifiers(d).species_id] for d in descriptions]


def pair(database, fasta_a, fasta_b, work):
    from alphafold.data import pipeline_multimer

    runner = pipeline_multimer.DataPipeline(
        monomer_data_pipeline=None,
        jackhmmer_binary_path="jackhmmer",
        uniprot_database_path=database,
    )
    chains, hits = [], []
    for index, fasta in enumerate((fasta_a, fasta_b)):
        out = os.path.join(work, str(index))
        os.makedirs(out, exist_ok=True)
        features = runner._all_seq_msa_features(fasta, out)  # what _process_single_chain adds
        chains.append(features)
        with open(os.path.join(out, "uniprot_hits.sto")) as handle:
            names = [line.split()[1] for line in handle if line.startswith("#=GS ")]
        hits.append(names)
    paired = msa_pairing.create_paired_features(chains)
    return {
        "hits": hits,
        "species": [[s.decode() for s in c["msa_species_identifiers_all_seq"]] for c in chains],
        "rows": [int(c["msa_all_seq"].shape[0]) for c in chains],
        "paired_rows": [int(c["msa_all_seq"].shape[0]) for c in paired],
    }


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    print(json.dumps({"mmcif": mmcif, "species": species, "pair": pair}[command](*arguments)))
