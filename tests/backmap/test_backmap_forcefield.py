"""Parsers of GROMACS .itp topologies and the DBM ff.txt table."""

from __future__ import annotations

import numpy as np
import pytest

from cgkit.backmap.forcefield import read_forcefield, read_itp
from cgkit.backmap.serialization import (
    forcefield_from_dict,
    forcefield_to_dict,
    topology_from_dict,
    topology_to_dict,
)
from cgkit.units import KJMOL_EV


def test_chain_itp_counts_and_exclusions(chain_files):
    topology = read_itp(chain_files[0])
    # 6 C + 14 H; bonds: 5 C-C + 14 C-H; angles: sum over atoms of C(degree, 2)
    assert topology.n_atoms == 20
    assert len(topology.bonds) == 19
    degree = np.bincount(topology.bonds.ravel())
    assert len(topology.angles) == int((degree * (degree - 1) // 2).sum()) == 36
    assert topology.dihedral_funcs.tolist() == [1, 1, 1, 2]
    excluded = {tuple(p) for p in topology.excluded_pairs().tolist()}
    # nrexcl = 2: every bond and every 1-3 pair, plus the explicit 1-6 exclusion of [exclusions]
    assert {tuple(sorted(b)) for b in topology.bonds.tolist()} <= excluded
    assert {tuple(sorted((a[0], a[2]))) for a in topology.angles.tolist()} <= excluded
    carbons = [i for i, t in enumerate(topology.atom_types) if t == "C"]
    assert (carbons[0], carbons[5]) in excluded
    assert (carbons[0], carbons[3]) not in excluded  # 1-4 pairs interact


def test_forcefield_units_channels_and_roundtrip(chain_files):
    ff = read_forcefield(chain_files[1])
    assert ff.nrexcl == 2 and ff.n_channels == 11
    bond = ff.bond(("H", "C"))  # order-insensitive lookup
    assert bond.channel == 1 and bond.params[0] == pytest.approx(1.10)
    assert bond.params[1] == pytest.approx(1000.0 * KJMOL_EV / 100.0)
    angle = ff.angle(("H", "C", "C"))
    assert angle.params[0] == pytest.approx(np.deg2rad(109.45))
    assert ff.dihedral(("C", "C", "C", "H")).func == 2
    assert ff.lj_channel("H", "C") == 8 and ff.bead_channel("BB") == 10  # first-letter alias
    sigma, eps = ff.lj_pair("C", "H")
    assert sigma == pytest.approx(0.5 * (3.207 + 2.318))
    assert eps == pytest.approx(np.sqrt(0.3519 * 0.3180) * KJMOL_EV)
    again = forcefield_from_dict(forcefield_to_dict(ff))
    assert again.dihedral(("C", "C", "C", "C")) == ff.dihedral(("C", "C", "C", "C"))
    with pytest.raises(KeyError, match="no angle type"):
        ff.angle(("H", "H", "H"))


def test_bad_files_name_the_line(tmp_path, chain_files):
    bad = tmp_path / "bad.itp"
    bad.write_text("[ atoms ]\n1 C 1 X C1 1 0.0\n[ bonds ]\n1 7 1\n")
    with pytest.raises(ValueError, match=r"bad.itp, line 4: atom index out of range 1..1"):
        read_itp(bad)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_forcefield(tmp_path / "missing.txt")


def test_sps_chain_hand_counted_terms(sps_dir):
    chain = read_itp(sps_dir / "aa_top" / "PS1.itp")
    assert chain.n_atoms == 162 and chain.nrexcl == 2
    # per monomer 16 intra-monomer bonds, 9 links between monomers, 2 end-cap hydrogens
    assert len(chain.bonds) == 10 * 16 + 9 + 2
    # 12 phenyl impropers per monomer; 17 backbone C-C-C-C + 2 H-C-C-C end dihedrals
    assert int((chain.dihedral_funcs == 2).sum()) == 120
    assert int((chain.dihedral_funcs == 1).sum()) == 19
    degree = np.bincount(chain.bonds.ravel())
    assert len(chain.angles) == int((degree * (degree - 1) // 2).sum()) == 300
    ff = read_forcefield(sps_dir / "forcefield" / "ff.txt")
    assert sorted(ff.atom_types) == ["C", "C_AR", "H", "H_AR"]
    assert ff.n_channels == 19 and ff.bead_channel("S") == 18
    system = chain.replicate(36)
    assert system.n_atoms == 5832 and system.bonds.max() == 5831
    again = topology_from_dict(topology_to_dict(system))
    assert np.array_equal(again.dihedrals, system.dihedrals)
