"""OpenMM's Topology.createDisulfideBonds gives each SG at most one disulfide (run in the image).

AlphaFold's relaxation (alphafold.relax.cleanup / amber_minimize) builds its topology with
OpenMM's PDBFile, which calls createDisulfideBonds. Before DeepMind's patch
(docker/openmm.patch of AlphaFold 2.3, merged into OpenMM since), three cysteines with
their SG atoms within 0.3 nm of each other got two bonds on one SG, and the force field
then failed on a cysteine with two disulfides. The image runs the pinned OpenMM unpatched:
this check fails if that OpenMM still bonds one SG twice.

Prints JSON: the bonds made, and each SG's disulfide count.
"""

import json

from openmm import Vec3
from openmm.app import Topology, element
from openmm.unit import nanometers

topology = Topology()
chain = topology.addChain()
positions = []
# three CYS residues (CYX: SG, no HG) whose SGs sit 0.20-0.25 nm from each other
for index, sg in enumerate(((0.0, 0.0, 0.0), (0.20, 0.0, 0.0), (0.10, 0.22, 0.0))):
    residue = topology.addResidue("CYS", chain)
    for name, symbol, offset in (
        ("N", "N", (-0.3, -0.3, 0.5)),
        ("CA", "C", (0.0, -0.3, 0.5)),
        ("C", "C", (0.3, -0.3, 0.5)),
        ("O", "O", (0.3, -0.5, 0.5)),
        ("CB", "C", (0.0, -0.15, 0.25)),
        ("SG", "S", (0.0, 0.0, 0.0)),
    ):
        topology.addAtom(name, element.get_by_symbol(symbol), residue)
        base = sg if name == "SG" else tuple(s + o * 3 for s, o in zip(sg, offset))
        positions.append(Vec3(*base))
topology.createDisulfideBonds(positions * nanometers)

bonds = [
    (a.residue.index, b.residue.index)
    for a, b in topology.bonds()
    if a.name == "SG" and b.name == "SG"
]
per_sg = {str(r.index): sum(r.index in pair for pair in bonds) for r in topology.residues()}
print(json.dumps({"bonds": bonds, "per_sg": per_sg}))
