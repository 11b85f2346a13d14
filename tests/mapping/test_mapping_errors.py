"""Bad input: every error names the offending file/line, frame, atom or bead."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cgkit.mapping import CGMap, MapFormatError
from cgkit.mapping.gromacs import read_itp

DKL_ECG = """5 2
Atom_type     Element     Structure     Mass          Charge          Adj_mat
3             C           0             12.011000     0.000000        1 2 3
1             H           0             1.007940      0.000000        0
1             H           0             1.007940      0.000000        0
3             C           1             12.011000     0.000000        0 4
8             O           1             15.999000     0.000000        3
"""

DBM = """[map]
1 C 1 BB
2 H 1 BB
3 C_AR 2 SC
4 H_AR 2 SC
[/map]
"""


def _write(tmp_path, text, name="bad.map"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _replace_line(text, line_number, new_line):
    lines = text.splitlines()
    lines[line_number - 1] = new_line
    return "\n".join(lines) + "\n"


def test_valid_small_files_read(tmp_path):
    dkl = CGMap.read(_write(tmp_path, DKL_ECG))
    assert (dkl.n_atoms, dkl.n_beads) == (5, 2)
    assert dkl.bead_bonds.tolist() == [[0, 1]]
    dbm = CGMap.read(_write(tmp_path, DBM, "dbm.map"))
    assert dbm.bead_types == ("BB", "SC") and dbm.symbols == ("C", "H", "C", "H")


# ---------------------------------------------------------------- map construction
def test_atom_in_no_bead():
    with pytest.raises(ValueError, match="atom 2 is in no bead"):
        CGMap.from_groups([[0, 1], [3]], weights="center", n_atoms=4)


def test_atom_in_two_beads_without_explicit_weights():
    with pytest.raises(ValueError, match="atom 1 is in bead 0 and in bead 1"):
        CGMap.from_groups([[0, 1], [1, 2]], weights="center")


def test_negative_weight():
    with pytest.raises(ValueError, match="weight of atom 1 in bead 0 is negative"):
        CGMap([[1.0, -0.5, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="weight of atom 2 in bead 1 is negative"):
        CGMap.from_groups([[0, 1], [2]], weights=[[1, 1], [-1]])


def test_zero_total_weight():
    with pytest.raises(ValueError, match="bead 1 has zero total weight"):
        CGMap([[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="bead 0 has no atoms"):
        CGMap.from_groups([[], [0]], weights="center")


def test_bad_masses_and_groups():
    with pytest.raises(ValueError, match="mass of atom 1 must be positive"):
        CGMap.from_groups([[0, 1]], masses=[12.0, 0.0])
    with pytest.raises(ValueError, match="weights='mass' needs masses"):
        CGMap.from_groups([[0, 1]])
    with pytest.raises(ValueError, match="bead 1 lists atom 5, outside 0..2"):
        CGMap.from_groups([[0, 1], [2, 5]], weights="center", n_atoms=3)
    with pytest.raises(ValueError, match="bead 0 lists atom 1 twice"):
        CGMap.from_groups([[0, 1, 1]], weights="center")
    with pytest.raises(ValueError, match=r"atom bond \(0, 7\) has an index outside 0..1"):
        CGMap.from_groups([[0, 1]], weights="center", atom_bonds=[[0, 7]])


def test_unknown_element_in_symbols():
    with pytest.raises(ValueError, match="atom 1 has unknown element 'Qq'"):
        CGMap.from_groups([[0, 1]], weights="center", symbols=["C", "Qq"])


# ---------------------------------------------------------------- mapping inputs
def test_atom_count_differs_from_atoms(bithiophene_dir, ethanol_atoms):
    cgmap = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
    with pytest.raises(ValueError, match="Atoms has 9 atoms but the map expects 34 atoms"):
        cgmap(ethanol_atoms)
    with pytest.raises(ValueError, match="positions have 9 atoms but the map expects 34"):
        cgmap.map_positions(ethanol_atoms.positions)


def test_non_finite_coordinates_name_frame_and_atom(rng):
    cgmap = CGMap.from_groups([[0, 1], [2, 3]], weights="center")
    positions = rng.normal(size=(4, 4, 3))
    positions[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite positions .* frame 2, atom 3"):
        cgmap.map_positions(positions)
    forces = rng.normal(size=(4, 3))
    forces[1, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite forces .* frame 0, atom 1"):
        cgmap.map_forces(forces)


def test_non_finite_torch_coordinates():
    torch = pytest.importorskip("torch")
    cgmap = CGMap.from_groups([[0, 1], [2, 3]], weights="center")
    positions = torch.zeros(3, 4, 3)
    positions[1, 2, 0] = float("inf")
    with pytest.raises(ValueError, match="frame 1, atom 2"):
        cgmap.map_positions(positions)


# ---------------------------------------------------------------- DKL-ECG files
@pytest.mark.parametrize(
    ("line_number", "new_line", "message"),
    [
        (1, "5", r"line 1: expected 'n_atoms n_beads'"),
        (4, "1  Xx  0  1.0  0.0  0", r"line 4: unknown element 'Xx'"),
        (5, "1  H  0  abc  0.0  0", r"line 5 \(atom 2\): could not convert"),
        (5, "1  H  7  1.0  0.0  0", r"line 5 \(atom 2\): bead 7 outside 0..1"),
        (5, "1  H  0  -1.0  0.0  0", r"line 5 \(atom 2\): weight -1.0 must be positive"),
        (5, "1  H  0  1.0  0.0  9", r"line 5 \(atom 2\): bonded atom 9 outside"),
        (6, "3  C", r"line 6 \(atom 3\): expected 'Atom_type Element"),
    ],
)
def test_malformed_dklecg_names_file_and_line(tmp_path, line_number, new_line, message):
    path = _write(tmp_path, _replace_line(DKL_ECG, line_number, new_line))
    with pytest.raises(MapFormatError, match=message) as info:
        CGMap.read(path)
    assert str(path) in str(info.value)


def test_dklecg_atom_count_mismatch(tmp_path):
    path = _write(tmp_path, DKL_ECG.replace("5 2", "6 2", 1))
    with pytest.raises(MapFormatError, match="header says 6 atoms but the file has 5"):
        CGMap.read(path)
    path = _write(tmp_path, DKL_ECG.replace("5 2", "5 3", 1))
    with pytest.raises(MapFormatError, match="bead 2 has no atoms"):
        CGMap.read(path)


# ---------------------------------------------------------------- DBM files
@pytest.mark.parametrize(
    ("line_number", "new_line", "message"),
    [
        (4, "3 C_AR 2", r"line 4: expected 'atom_index atom_type bead_index bead_type'"),
        (4, "2 C_AR 2 SC", r"line 4: atom 2 already mapped on line 3"),
        (4, "3 Q_AR 2 SC", r"line 4: unknown element for atom type 'Q_AR'"),
        (4, "3 C_AR 1 SC", r"line 4: bead 1 has type 'SC' here but 'BB' before"),
        (4, "x C_AR 2 SC", r"line 4: atom and bead indices must be integers"),
        (4, "0 C_AR 2 SC", r"line 4: indices are 1-based"),
    ],
)
def test_malformed_dbm_names_file_and_line(tmp_path, line_number, new_line, message):
    path = _write(tmp_path, _replace_line(DBM, line_number, new_line))
    with pytest.raises(MapFormatError, match=message) as info:
        CGMap.read(path)
    assert str(path) in str(info.value)


def test_dbm_missing_atom(tmp_path):
    path = _write(tmp_path, DBM.replace("2 H 1 BB\n", ""))
    with pytest.raises(MapFormatError, match=r"atom 2 \(1-based\) is in no bead"):
        CGMap.read(path)


# ---------------------------------------------------------------- JSON and detection
def test_malformed_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, '{\n "format": "cgkit-map",\n "n_atoms": 3,,\n}', "bad.json")
    with pytest.raises(MapFormatError, match=r"bad.json, line 3: invalid JSON"):
        CGMap.read(path)
    path = _write(tmp_path, json.dumps({"format": "something-else"}), "other.json")
    with pytest.raises(MapFormatError, match="other.json: not a cgkit map"):
        CGMap.read(path)
    data = CGMap.from_groups([[0, 1]], weights="center").to_dict()
    del data["weights"]
    path = _write(tmp_path, json.dumps(data), "partial.json")
    with pytest.raises(MapFormatError, match="partial.json: missing key 'weights'"):
        CGMap.read(path)
    data = CGMap.from_groups([[0, 1]], weights="center").to_dict()
    data["weights"]["value"][1] = -1.0
    path = _write(tmp_path, json.dumps(data), "negative.json")
    with pytest.raises(MapFormatError, match="negative.json: weight of atom 1 in bead 0"):
        CGMap.read(path)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(MapFormatError, match="odd.map, line 1: unknown map format"):
        CGMap.read(_write(tmp_path, "hello world again\n", "odd.map"))
    with pytest.raises(FileNotFoundError, match="nothere.map"):
        CGMap.read(tmp_path / "nothere.map")


def test_dklecg_writer_refuses_maps_it_cannot_express(tmp_path):
    shared = CGMap.from_groups(
        [[0, 1], [1, 2]], weights=[[1, 1], [1, 1]], masses=[1.0, 1.0, 1.0], symbols="HHH"
    )
    with pytest.raises(ValueError, match="atom 1 is shared"):
        shared.write(tmp_path / "x.map", format="dkl-ecg")
    with pytest.raises(ValueError, match="needs the map's symbols and masses"):
        CGMap.from_groups([[0, 1]], weights="center").write(tmp_path / "y.map", format="dkl-ecg")
    with pytest.raises(ValueError, match="unknown map format 'xyz'"):
        shared.write(tmp_path / "z.map", format="xyz")


def test_itp_errors_name_file_and_line(tmp_path):
    itp = "[atoms]\n1 C 1 X C1 1 0.0\n2 ZZ 1 X Z2 2 0.0\n"
    path = _write(tmp_path, itp, "bad.itp")
    with pytest.raises(MapFormatError, match=r"bad.itp, line 3: unknown element for atom type"):
        read_itp(path)
    path = _write(tmp_path, "[atoms]\n1 C 1 X C1 1 0.0\n[bonds]\n1 x 1\n", "bond.itp")
    with pytest.raises(MapFormatError, match=r"bond.itp, line 4: cannot parse \[bonds\]"):
        read_itp(path)
