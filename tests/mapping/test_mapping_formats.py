"""Map files: DKL-ECG and DBM readers against hand computations, lossless JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cgkit.features import distance_features
from cgkit.mapping import CGMap, polystyrene_fritz_map


def _hand_bead_positions(map_path, positions):
    """Bead centres by looping over atoms with the Structure/Mass columns, plain numpy."""
    lines = map_path.read_text().splitlines()
    n_atoms, n_beads = (int(x) for x in lines[0].split())
    weighted = np.zeros((n_beads, 3))
    totals = np.zeros(n_beads)
    for atom, line in enumerate(lines[2 : 2 + n_atoms]):
        fields = line.split()
        bead, mass = int(fields[2]), float(fields[3])
        weighted[bead] += mass * positions[atom]
        totals[bead] += mass
    return weighted / totals[:, None]


def test_dklecg_8_bead_map_reproduces_hand_distance_features(bithiophene_dir, bithiophene_npz):
    map_path = bithiophene_dir / "maps" / "8_bead.map"
    cgmap = CGMap.read(map_path)
    positions = bithiophene_npz["positions"][0]
    hand = _hand_bead_positions(map_path, positions)
    hand_features = [np.linalg.norm(hand[i] - hand[j]) for i in range(8) for j in range(i + 1, 8)]
    features = distance_features(cgmap.map_positions(positions))
    assert features.shape == (28,)
    np.testing.assert_allclose(features, hand_features, rtol=1e-12)
    assert list(cgmap.symbols) == bithiophene_npz["symbols"].tolist()


@pytest.mark.parametrize("n_beads", [4, 6, 8, 10, 12, 14, 16])
def test_every_shipped_dklecg_map_conserves_mass(bithiophene_dir, bithiophene_npz, n_beads):
    from ase.data import atomic_masses, atomic_numbers

    cgmap = CGMap.read(bithiophene_dir / "maps" / f"{n_beads}_bead.map")
    assert (cgmap.n_atoms, cgmap.n_beads) == (34, n_beads)
    masses = [atomic_masses[atomic_numbers[s]] for s in bithiophene_npz["symbols"]]
    assert cgmap.bead_masses.sum() == pytest.approx(np.sum(masses), rel=1e-4)
    # beads form one connected molecule: M - 1 bonds at least, and angles follow from them
    assert len(cgmap.bead_bonds) >= n_beads - 1
    assert len(cgmap.bead_angles) >= n_beads - 2


def test_dklecg_write_read_round_trip(bithiophene_dir, tmp_path, rng):
    cgmap = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
    path = tmp_path / "copy.map"
    cgmap.write(path, format="dkl-ecg")
    again = CGMap.read(path)
    np.testing.assert_allclose(again.weights, cgmap.weights, rtol=1e-15)
    np.testing.assert_array_equal(again.atom_bonds, cgmap.atom_bonds)
    assert again.symbols == cgmap.symbols


def test_json_round_trip_is_lossless_with_shared_atoms(sps_dir, tmp_path):
    cgmap = polystyrene_fritz_map(
        sps_dir / "aa_top" / "PS1.itp", sps_dir / "mapping" / "PS1.map", n_chains=2
    )
    path = tmp_path / "fritz.json"
    cgmap.write(path)
    again = CGMap.read(path)
    assert again == cgmap
    np.testing.assert_array_equal(again.weights, cgmap.weights)  # bit-for-bit
    np.testing.assert_array_equal(again.masses, cgmap.masses)
    np.testing.assert_array_equal(again.bead_bonds, cgmap.bead_bonds)
    assert again.bead_names == cgmap.bead_names and again.bead_types == cgmap.bead_types
    assert again.allow_unmapped and len(again.shared_atoms) == len(cgmap.shared_atoms) > 0


def test_dict_round_trip_is_lossless_for_irrational_weights(rng):
    raw = rng.uniform(0.1, 1.0, size=(3, 7)) * (rng.uniform(size=(3, 7)) < 0.6)
    raw[:, 0] += 0.3  # every bead non-empty; atom 0 shared by all beads
    raw[0, 1:] += (raw[:, 1:].sum(0) == 0) * 0.5  # every atom mapped
    cgmap = CGMap(raw, masses=rng.uniform(1, 20, size=7), bead_types=["X", "Y", "X"])
    text = json.dumps(cgmap.to_dict())
    again = CGMap.from_dict(json.loads(text))
    np.testing.assert_array_equal(again.weights, cgmap.weights)
    assert again == cgmap and again.to_dict() == cgmap.to_dict()


def test_dbm_map_reads_one_chain(sps_dir):
    cgmap = CGMap.read(sps_dir / "mapping" / "PS1.map")
    assert (cgmap.n_atoms, cgmap.n_beads) == (162, 20)
    assert cgmap.bead_types[:2] == ("BB", "SC")
    assert cgmap.atoms_of_bead(0).tolist() == [0, 1, 2, 3, 4, 160]  # 1-based 1-5 and 161
    assert cgmap.symbols[5] == "C" and cgmap.symbols[7] == "H"  # C_AR, H_AR
    assert len(cgmap.shared_atoms) == 0
    assert cgmap.bead_masses.sum() == pytest.approx(cgmap.masses.sum())


def test_dbm_side_chain_beads_match_shipped_cg_frame(sps_dir):
    from ase.io import read

    from cgkit.mapping import minimum_image

    system_map = CGMap.read(sps_dir / "mapping" / "PS1.map").repeat(36)
    snapshot = sps_dir / "reference_snapshots" / "sPS_t568_1"
    atoms = read(snapshot / "aa" / "100.gro")
    reference = read(snapshot / "cg" / "100.gro")
    beads = system_map(atoms)
    side_chain = np.array([t == "SC" for t in system_map.bead_types])
    diff = minimum_image((beads.positions - reference.positions)[None], atoms.cell.array)[0]
    assert np.linalg.norm(diff[side_chain], axis=1).max() < 0.02  # Å: 0.002 nm


def test_format_detection_ignores_suffix(bithiophene_dir, tmp_path):
    text = (bithiophene_dir / "maps" / "4_bead.map").read_text()
    path = tmp_path / "map.txt"
    path.write_text(text)
    assert CGMap.read(path).n_beads == 4
