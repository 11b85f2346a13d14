"""The ``ase.ioformats`` plugin: ase.io.read/write of ``.h5`` stores."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

import cgkit.data


def test_ase_read_all_frames_with_labels(tmp_path, ethanol_atoms, rng):
    import ase.io

    path = tmp_path / "e.h5"
    positions = ethanol_atoms.positions + rng.normal(scale=0.1, size=(6, 9, 3))
    homo = rng.normal(size=6)
    with cgkit.data.create(path) as store:
        system = store.add_system("ethanol", ethanol_atoms.numbers)
        system.append_frames(positions, labels={"homo": homo})
        system.mark_failed("homo", 2, "crash")
    frames = ase.io.read(path, index=":")
    assert len(frames) == 6
    for k, atoms in enumerate(frames):
        np.testing.assert_array_equal(atoms.positions, positions[k])
        assert atoms.get_chemical_symbols() == ethanol_atoms.get_chemical_symbols()
        if k == 2:
            assert "homo" not in atoms.info  # failed labels are left out
        else:
            assert atoms.info["homo"] == homo[k]
    last = ase.io.read(path)  # ASE's default index is the last frame
    np.testing.assert_array_equal(last.positions, positions[-1])
    odd = ase.io.read(f"{path}@1::2")
    assert [a.info["frame"] for a in odd] == [1, 3, 5]


def test_ase_write_then_read_round_trip(tmp_path, water_atoms, rng):
    import ase.io

    images = []
    for k in range(4):
        atoms = water_atoms.copy()
        atoms.positions += rng.normal(scale=0.05, size=(3, 3))
        atoms.cell = np.eye(3) * 8.0
        atoms.pbc = True
        atoms.info["homo"] = -7.0 + k
        atoms.calc = SinglePointCalculator(atoms, energy=-10.0 * k, forces=np.full((3, 3), k))
        images.append(atoms)
    path = tmp_path / "w.h5"
    ase.io.write(path, images[:3])
    ase.io.write(path, images[3:], append=True)
    back = ase.io.read(path, index=":")
    assert len(back) == 4
    for atoms, original in zip(back, images, strict=True):
        np.testing.assert_array_equal(atoms.positions, original.positions)
        np.testing.assert_array_equal(atoms.cell.array, original.cell.array)
        assert atoms.info["homo"] == original.info["homo"]
        assert atoms.info["energy"] == original.calc.results["energy"]
        np.testing.assert_array_equal(atoms.arrays["forces"], original.calc.results["forces"])
    with cgkit.data.open(path) as store:
        assert store["system"].labels["energy"].unit == "eV"


def test_plugin_import_does_not_load_torch_or_backends():
    code = (
        "import sys, ase.io\n"
        "from ase.io.formats import ioformats\n"
        "assert ioformats['cgkit-h5'].module.__name__ == 'cgkit.data.aseio'\n"
        "print(sorted(m for m in ('torch', 'h5py', 'zarr') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_zarr_format_functions_round_trip(tmp_path, water_atoms):
    from cgkit.data import aseio

    images = [water_atoms.copy() for _ in range(3)]
    for k, atoms in enumerate(images):
        atoms.positions[0, 2] += 0.1 * k
        atoms.info["lumo"] = float(k)
    path = tmp_path / "w.zarr"
    aseio.write_cgkit_zarr(path, images)
    back = list(aseio.read_cgkit_zarr(path, slice(None, None, -1)))
    assert [a.info["lumo"] for a in back] == [2.0, 1.0, 0.0]
    np.testing.assert_array_equal(back[0].positions, images[2].positions)
    assert aseio.zarr_format.glob == "*.zarr" and aseio.h5_format.ext == "h5"
