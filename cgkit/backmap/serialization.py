"""JSON-able dicts of force fields and topologies (saved with models)."""

from __future__ import annotations

import numpy as np

from cgkit.backmap.forcefield import AtomType, ForceField, InteractionType, Topology


def forcefield_to_dict(forcefield: ForceField) -> dict:
    """JSON-able dict of a :class:`ForceField` (parameters in cgkit units)."""

    def table(t):
        return [[list(v.types), v.channel, v.func, list(v.params)] for v in t.values()]

    return {
        "name": forcefield.name,
        "nrexcl": forcefield.nrexcl,
        "atom_types": [
            [a.name, a.channel, a.mass, a.charge, a.sigma, a.epsilon]
            for a in forcefield.atom_types.values()
        ],
        "bond_types": table(forcefield.bond_types),
        "angle_types": table(forcefield.angle_types),
        "dihedral_types": table(forcefield.dihedral_types),
        "lj_channels": [[i, j, c] for (i, j), c in forcefield.lj_channels.items()],
        "bead_channels": forcefield.bead_channels,
    }


def forcefield_from_dict(data: dict) -> ForceField:
    """Inverse of :func:`forcefield_to_dict`."""

    def table(rows):
        return {tuple(t): InteractionType(tuple(t), c, f, tuple(p)) for t, c, f, p in rows}

    return ForceField(
        name=data["name"],
        nrexcl=int(data["nrexcl"]),
        atom_types={r[0]: AtomType(*r) for r in data["atom_types"]},
        bond_types=table(data["bond_types"]),
        angle_types=table(data["angle_types"]),
        dihedral_types=table(data["dihedral_types"]),
        lj_channels={(i, j): int(c) for i, j, c in data["lj_channels"]},
        bead_channels={k: int(v) for k, v in data["bead_channels"].items()},
    )


def topology_to_dict(topology: Topology) -> dict:
    """JSON-able dict of a :class:`Topology`."""
    return {
        "atom_types": list(topology.atom_types),
        "atom_names": list(topology.atom_names),
        "bonds": topology.bonds.tolist(),
        "angles": topology.angles.tolist(),
        "dihedrals": topology.dihedrals.tolist(),
        "dihedral_funcs": topology.dihedral_funcs.tolist(),
        "exclusions": topology.exclusions.tolist(),
        "nrexcl": topology.nrexcl,
        "molecule_index": topology.molecule_index.tolist(),
    }


def topology_from_dict(data: dict) -> Topology:
    """Inverse of :func:`topology_to_dict`."""

    def arr(key, width):
        return np.asarray(data[key], dtype=int).reshape(-1, width)

    return Topology(
        atom_types=list(data["atom_types"]),
        atom_names=list(data["atom_names"]),
        bonds=arr("bonds", 2),
        angles=arr("angles", 3),
        dihedrals=arr("dihedrals", 4),
        dihedral_funcs=np.asarray(data["dihedral_funcs"], dtype=int),
        exclusions=arr("exclusions", 2),
        nrexcl=int(data["nrexcl"]),
        molecule_index=np.asarray(data["molecule_index"], dtype=int),
    )
