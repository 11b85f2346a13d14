"""A hand-built hydrocarbon chain with its own force field for the backmapping tests.

Six carbons in a planar zigzag, each with two hydrogens (ends with three), grouped into
three beads of two CH2/CH3 units. Types and parameters follow the sPS ff.txt.
"""

from __future__ import annotations

import numpy as np
import pytest

FF_TEXT = """\
[general]
; name nrexcl
chain 2
[/general]

[atom_types]
;name channel mass charge sigma epsilon
C  -1 12.0110 0.0 0.3207 0.3519
H  -1  1.0080 0.0 0.2318 0.3180
[/atom_types]

[bond_types]
C C 0 1 0.153 1000.0
C H 1 1 0.110 1000.0
[/bond_types]

[angle_types]
H C H 2 1 109.45 306.40
C C H 3 1 109.45 448.90
C C C 4 1 111.00 530.30
[/angle_types]

[dihedral_types]
C C C C 5 1 0.0 6.0 3.0
H C C C 5 1 0.0 6.0 3.0
C C C H 6 2 0.0 167.4
[/dihedral_types]

[lj_types]
C C 7
C H 8
H H 9
[/lj_types]

[bead_types]
B 10
[/bead_types]
"""


def chain_geometry():
    """Atom types, names, positions (Å) and bonds of the chain (0-based)."""
    types, names, positions, bonds = [], [], [], []
    carbons = []
    for k in range(6):
        x = 1.27 * k
        y = 0.42 if k % 2 else -0.42
        types.append("C")
        names.append(f"C{len(names) + 1}")
        positions.append([x, y, 0.0])
        carbons.append(len(types) - 1)
        if k:
            bonds.append((carbons[k - 1], carbons[k]))
        n_h = 3 if k in (0, 5) else 2
        for h in range(n_h):
            direction = np.array([0.0, np.sign(y) * 0.55, 0.9 if h == 0 else -0.9])
            if h == 2:
                direction = np.array([-0.9 if k == 0 else 0.9, 0.3 * np.sign(y), 0.0])
            types.append("H")
            names.append(f"H{len(names) + 1}")
            positions.append(list(np.array([x, y, 0.0]) + direction))
            bonds.append((carbons[k], len(types) - 1))
    return types, names, np.array(positions), np.array(bonds)


def chain_itp_text() -> str:
    """GROMACS .itp text of the chain with all angles and both dihedral kinds."""
    types, names, _pos, bonds = chain_geometry()
    neighbours = [set() for _ in types]
    for i, j in bonds:
        neighbours[i].add(j)
        neighbours[j].add(i)
    lines = ["[ moleculetype ]", "chain 2", "", "[ atoms ]"]
    lines += [
        f"{i + 1} {t} 1 CH {n} {i + 1} 0.0"
        for i, (t, n) in enumerate(zip(types, names, strict=True))
    ]
    lines += ["", "[ bonds ]"] + [f"{i + 1} {j + 1} 1" for i, j in bonds]
    lines += ["", "[ angles ]"]
    for j in range(len(types)):
        nb = sorted(neighbours[j])
        for a in range(len(nb)):
            for b in range(a + 1, len(nb)):
                lines.append(f"{nb[a] + 1} {j + 1} {nb[b] + 1} 1")
    lines += ["", "[ dihedrals ]"]
    carbons = [i for i, t in enumerate(types) if t == "C"]
    for k in range(len(carbons) - 3):
        a, b, c, d = carbons[k : k + 4]
        lines.append(f"{a + 1} {b + 1} {c + 1} {d + 1} 1")
    h_of_c2 = sorted(n for n in neighbours[carbons[2]] if types[n] == "H")[0]
    lines.append(f"{carbons[0] + 1} {carbons[1] + 1} {carbons[2] + 1} {h_of_c2 + 1} 2")
    lines += ["", "[ exclusions ]", f"{carbons[0] + 1} {carbons[5] + 1}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def chain_files(tmp_path):
    """Paths (itp, ff) of the hand-built chain."""
    itp = tmp_path / "chain.itp"
    ff = tmp_path / "ff.txt"
    itp.write_text(chain_itp_text())
    ff.write_text(FF_TEXT)
    return itp, ff


@pytest.fixture
def chain_system(chain_files):
    """(topology, forcefield, cgmap, positions) of the chain, three beads of 2 carbons."""
    from cgkit.backmap.forcefield import read_forcefield, read_itp
    from cgkit.mapping import CGMap

    itp, ff_path = chain_files
    topology, forcefield = read_itp(itp), read_forcefield(ff_path)
    types, _names, positions, bonds = chain_geometry()
    carbons = [i for i, t in enumerate(types) if t == "C"]
    groups = [list(range(carbons[2 * b], carbons[2 * b + 2] if b < 2 else len(types)))
              for b in range(3)]  # fmt: skip
    masses = np.array([12.011 if t == "C" else 1.008 for t in types])
    weights = np.zeros((3, len(types)))
    for bead, group in enumerate(groups):
        weights[bead, group] = masses[group]
    cgmap = CGMap(weights, masses=masses, bead_types=["B"] * 3, atom_bonds=bonds)
    return topology, forcefield, cgmap, positions
