"""Fritz et al.'s polystyrene CG map, with backbone atoms shared between beads.

Fritz, Harmandaris, Kremer & van der Vegt, Macromolecules 42, 7579 (2009): per monomer a
backbone bead ``B`` and a side-chain bead ``S``.

* ``S``: mass-weighted centre of the phenyl group (the side-chain bead of the DBM map).
* ``B``: mass-weighted centre of its CH2 group plus half of each neighbouring CH group
  (the backbone CH carbons bonded to the CH2 carbon, each with its hydrogen); CH atoms
  are thus shared by two consecutive backbone beads.
* chain-end ``B`` (its CH2-type carbon has a single backbone neighbour): the terminal
  carbon alone.

Groups are the charge groups (``cgnr``) of the backbone carbons in the all-atom ``.itp``,
which separates the extra end-cap hydrogens from the CH groups; atoms in no group (the
terminal methyl hydrogens and end caps) carry no weight. This reproduces the CG frames
shipped with the DBM sPS data to 0.001 nm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cgkit.mapping.cgmap import CGMap
from cgkit.mapping.formats import MapFormatError, read_dbm
from cgkit.mapping.gromacs import read_itp


def polystyrene_fritz_map(
    itp_path,
    map_path,
    n_chains: int = 1,
    backbone_type: str = "BB",
    side_chain_type: str = "SC",
) -> CGMap:
    """Fritz et al.'s polystyrene map for ``n_chains`` consecutive identical chains.

    Parameters
    ----------
    itp_path : path
        All-atom GROMACS topology of one chain (e.g. ``aa_top/PS1.itp``): atoms with
        types and charge groups, and bonds.
    map_path : path
        DBM ``[map]`` file of one chain (e.g. ``mapping/PS1.map``): fixes the bead order
        and which atoms form each backbone / side-chain bead.
    n_chains : int
        Number of chains in the system, stored one after the other.
    backbone_type, side_chain_type : str
        Bead types of the DBM map for backbone and side-chain beads.

    Returns
    -------
    CGMap
        Beads in DBM-map order named ``B1, S1, B2, ...`` (monomer number) with types
        ``"B"``/``"S"``; shared CH atoms; atom bonds from the ``.itp``.
    """
    molecule = read_itp(itp_path)
    dbm = read_dbm(Path(map_path))
    if dbm.n_atoms != len(molecule.names):
        raise MapFormatError(
            f"{map_path} maps {dbm.n_atoms} atoms but {itp_path} has {len(molecule.names)} atoms"
        )
    unknown = set(dbm.bead_types) - {backbone_type, side_chain_type}
    if unknown:
        raise MapFormatError(
            f"{map_path}: bead type {sorted(unknown)[0]!r} is neither backbone "
            f"({backbone_type!r}) nor side chain ({side_chain_type!r})"
        )
    masses = molecule.masses
    symbols = np.array(molecule.symbols)
    neighbours: list[set[int]] = [set() for _ in symbols]
    for i, j in molecule.bonds:
        neighbours[i].add(int(j))
        neighbours[j].add(int(i))
    bead_atoms = [dbm.atoms_of_bead(b) for b in range(dbm.n_beads)]
    side_chain_atoms = set()
    for atoms, kind in zip(bead_atoms, dbm.bead_types, strict=True):
        if kind == side_chain_type:
            side_chain_atoms.update(atoms.tolist())
    backbone_carbons = {
        int(a)
        for atoms, kind in zip(bead_atoms, dbm.bead_types, strict=True)
        if kind == backbone_type
        for a in atoms
        if symbols[a] == "C"
    }

    def group_of(carbon: int) -> np.ndarray:
        """The carbon's charge group: the carbon and its hydrogens."""
        members = np.flatnonzero(molecule.charge_groups == molecule.charge_groups[carbon])
        return members[(members == carbon) | (symbols[members] == "H")]

    rows, cols, values = [], [], []
    names, types = [], []
    monomer = 0
    for bead, (atoms, kind) in enumerate(zip(bead_atoms, dbm.bead_types, strict=True)):
        if kind == side_chain_type:
            names.append(f"S{monomer}")
            types.append("S")
            members, weights = atoms, masses[atoms]
        else:
            monomer += 1
            names.append(f"B{monomer}")
            types.append("B")
            carbons = [a for a in atoms if a in backbone_carbons]
            ch2 = [c for c in carbons if not neighbours[c] & side_chain_atoms]
            if len(ch2) != 1:
                raise MapFormatError(
                    f"{map_path}: backbone bead {bead + 1} has {len(ch2)} backbone carbons "
                    "without a side chain; expected exactly one CH2 carbon"
                )
            ch2_carbon = ch2[0]
            ch_neighbours = sorted(neighbours[ch2_carbon] & backbone_carbons)
            if len(ch_neighbours) == 1:  # chain end: the terminal carbon alone
                members, weights = np.array([ch2_carbon]), masses[[ch2_carbon]]
            else:
                parts = [(group_of(ch2_carbon), 1.0)]
                parts += [(group_of(c), 0.5) for c in ch_neighbours]
                members = np.concatenate([p for p, _ in parts])
                weights = np.concatenate([share * masses[p] for p, share in parts])
        rows.extend([bead] * len(members))
        cols.extend(np.asarray(members).tolist())
        values.extend(np.asarray(weights).tolist())
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(dbm.n_beads, dbm.n_atoms))
    one_chain = CGMap(
        matrix,
        masses=masses,
        bead_names=names,
        bead_types=types,
        atom_bonds=molecule.bonds,
        symbols=molecule.symbols,
        allow_unmapped=True,
    )
    return one_chain.repeat(n_chains)
