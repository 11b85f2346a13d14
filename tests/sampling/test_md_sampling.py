"""run_md samples the target temperature, is reproducible and streams frames into a store."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.cluster import Icosahedron

from cgkit.sampling import from_smiles, read_structure, run_md, smiles_multiplicity


@pytest.fixture
def cluster():
    return Icosahedron("Cu", 2)  # 13 atoms, EMT is fast


@pytest.mark.parametrize(("thermostat", "coupling"), [("langevin", 0.05), ("bussi", 10.0)])
def test_mean_kinetic_temperature_matches_target(cluster, thermostat, coupling):
    result = run_md(
        cluster, EMT(), 500.0, 2.0, 2000, 20, thermostat=thermostat, seed=1,
        equilibration=100, coupling=coupling,
    )  # fmt: skip
    assert result.mean_temperature == pytest.approx(500.0, rel=0.04)
    assert result.positions.shape == (100, 13, 3)
    assert result.temperature.shape == (100,)
    # the centre of mass stays where it started (fixed, not drifting with the noise)
    masses = cluster.get_masses()
    com = np.einsum("n,fnc->fc", masses, result.positions) / masses.sum()
    start = np.broadcast_to(cluster.get_center_of_mass(), com.shape)
    np.testing.assert_allclose(com, start, atol=1e-8)


def test_same_seed_same_frames_and_settings_recorded(cluster):
    a = run_md(cluster, EMT(), 300.0, 2.0, 60, 20, seed=5, equilibration=10)
    b = run_md(cluster, EMT(), 300.0, 2.0, 60, 20, seed=5, equilibration=10)
    c = run_md(cluster, EMT(), 300.0, 2.0, 60, 20, seed=6, equilibration=10)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)
    np.testing.assert_allclose(a.time, [40.0, 80.0, 120.0])
    assert a.settings["decorrelation_fs"] == 40.0 and a.settings["equilibration"] == 10
    assert not np.allclose(a.positions[0], cluster.positions)  # the input is not modified
    np.testing.assert_array_equal(cluster.positions, Icosahedron("Cu", 2).positions)


@pytest.mark.parametrize("equilibration", [0, 7])
def test_frames_are_taken_every_interval_steps(cluster, equilibration):
    every = run_md(cluster, EMT(), 300.0, 2.0, 6, 1, seed=4, equilibration=equilibration)
    sparse = run_md(cluster, EMT(), 300.0, 2.0, 6, 3, seed=4, equilibration=equilibration)
    np.testing.assert_array_equal(sparse.positions, every.positions[[2, 5]])
    np.testing.assert_array_equal(sparse.temperature, every.temperature[[2, 5]])
    np.testing.assert_allclose(every.time, 2.0 * np.arange(1, 7))


def test_frames_stream_into_a_store(tmp_path, cluster):
    import cgkit.data

    with cgkit.data.create(tmp_path / "md.h5") as store:
        system = store.add_system("cu13", cluster.numbers)
        result = run_md(cluster, EMT(), 300.0, 2.0, 50, 5, seed=2, store=system, chunk=3)
        assert system.n_frames == 10
    with cgkit.data.open(tmp_path / "md.h5") as store:
        np.testing.assert_array_equal(store["cu13"].read_positions(), result.positions)
        np.testing.assert_array_equal(store["cu13"].read_time(), result.time)


def test_bad_settings_are_refused(cluster):
    with pytest.raises(ValueError, match="thermostat"):
        run_md(cluster, EMT(), 300.0, 1.0, 10, 2, thermostat="berendsen")
    with pytest.raises(ValueError, match="interval"):
        run_md(cluster, EMT(), 300.0, 1.0, 10, 20)


def test_structures_from_smiles_and_files(tmp_path):
    a = from_smiles("c1ccsc1-c1cccs1", seed=3)
    b = from_smiles("c1ccsc1-c1cccs1", seed=3)
    assert a.get_chemical_formula() == "C8H6S2"
    np.testing.assert_array_equal(a.positions, b.positions)
    # MMFF geometry: C-S bonds near 1.72 A
    assert 1.65 < a.get_distance(3, 4) < 1.80
    assert smiles_multiplicity("CC1(C)CCCC(C)(C)N1[O]") == 2
    a.write(tmp_path / "start.xyz")
    reread = read_structure(tmp_path / "start.xyz")
    np.testing.assert_allclose(reread.positions, a.positions, atol=1e-6)
    with pytest.raises(ValueError, match="could not parse SMILES 'c1ccc'"):
        from_smiles("c1ccc")
    with pytest.raises(FileNotFoundError, match="nope.xyz"):
        read_structure(tmp_path / "nope.xyz")
    (tmp_path / "bad.xyz").write_text("not a structure\n")
    with pytest.raises(ValueError, match="bad.xyz"):
        read_structure(tmp_path / "bad.xyz")


@pytest.mark.slow
def test_bithiophene_gfn2_md_samples_300K():
    # 2 ps at 0.5 fs; ASE's Langevin with its default fixcm=True runs this ~24 % hot
    from tblite.ase import TBLite

    atoms = from_smiles("c1ccsc1-c1cccs1", seed=0)
    result = run_md(
        atoms, TBLite(method="GFN2-xTB", verbosity=0), 300.0, 0.5, 4000, 10,
        thermostat="langevin", coupling=0.02, seed=1, equilibration=200,
    )  # fmt: skip
    assert result.mean_temperature == pytest.approx(300.0, rel=0.03)
