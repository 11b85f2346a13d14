"""HDF5 <-> Zarr conversion is lossless: every array, dtype, shape and attribute survives."""

from __future__ import annotations

import numpy as np
import pytest

import cgkit.data
from cgkit.data._backend import open_backend
from cgkit.mapping import CGMap


def _tree(group) -> dict:
    """{path: (attrs, values or None)} of every group and array under ``group``."""
    out = {group.path: (group.attrs(), None)}
    for name in group.array_names():
        array = group.array(name)
        out[array.path] = (array.attrs(), array.read())
    for name in group.group_names():
        out.update(_tree(group.group(name)))
    return out


def _assert_same_tree(path_a, path_b):
    a_file, b_file = open_backend(path_a, "r"), open_backend(path_b, "r")
    try:
        a, b = _tree(a_file.root), _tree(b_file.root)
    finally:
        a_file.close()
        b_file.close()
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key][0] == b[key][0], key
        if a[key][1] is not None:
            assert a[key][1].dtype == b[key][1].dtype, key
            np.testing.assert_array_equal(a[key][1], b[key][1], err_msg=key)
    return a


def _rich_store(path, ethanol_atoms, rng):
    n = 23
    with cgkit.data.create(path, provenance={"recipe": "[md]\nsteps = 3\n", "seeds": [7]}) as store:
        system = store.add_system("ethanol", ethanol_atoms.numbers, bonds=[[0, 1], [1, 2]])
        system.add_label("dipole", method="GFN2-xTB", program="tblite", shape=(3,))
        system.append_frames(
            ethanol_atoms.positions + rng.normal(scale=0.1, size=(n, 9, 3)),
            cell=np.eye(3) * 10.0,
            time=np.arange(n) * 2.0,
            forces=rng.normal(size=(n, 9, 3)),
            labels={"homo": rng.normal(size=n), "dipole": rng.normal(size=(n, 3))},
        )
        system.mark_failed("homo", 5, "SCF failed: ünïcode reason")
        system.add_map("two", CGMap.from_groups([[0, 1, 2, 3, 4, 5], [6, 7, 8]], weights="center"))
        store.add_system("water", ["O", "H", "H"])


@pytest.mark.parametrize("first", ["h5", "zarr"])
def test_round_trip_is_lossless(tmp_path, first, ethanol_atoms, rng):
    second = "zarr" if first == "h5" else "h5"
    original = tmp_path / f"a.{first}"
    _rich_store(original, ethanol_atoms, rng)
    converted = cgkit.data.convert(original, tmp_path / f"b.{second}")
    back = cgkit.data.convert(converted, tmp_path / f"c.{first}")
    tree = _assert_same_tree(original, converted)
    _assert_same_tree(original, back)
    assert "/systems/ethanol/labels/homo/status" in tree
    with cgkit.data.open(converted) as store:
        assert store.provenance["recipe"] == "[md]\nsteps = 3\n"
        system = store["ethanol"]
        assert system.failure_reasons("homo") == {5: "SCF failed: ünïcode reason"}
        assert system.labels["dipole"].program == "tblite"
        assert store["water"].n_frames == 0
        assert system.maps["two"].n_beads == 2
    with pytest.raises(FileExistsError):
        cgkit.data.convert(original, converted)
