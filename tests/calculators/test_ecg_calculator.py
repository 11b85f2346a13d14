"""ECGCalculator: property names, caching, AA+map path, batch path and invariance."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError

from cgkit.calculators import ECGCalculator
from cgkit.ecg import ECGRegressor
from cgkit.mapping import CGMap

torch.set_num_threads(1)

GROUPS = [[0, 1], [2, 3], [4, 5, 6], [7]]


def _frames(n_frames, rng):
    """All-atom frames (8 atoms) whose 4-bead map has a dihedral-dependent property."""
    phi = rng.uniform(-np.pi, np.pi, n_frames)
    beads = np.zeros((n_frames, 4, 3))
    beads[:, 1] = [1.5, 0.0, 0.0]
    beads[:, 2] = [2.0, 1.4, 0.0]
    beads[:, 3] = beads[:, 2] + np.stack([0.5 + 0 * phi, np.cos(phi), np.sin(phi)], -1)
    atoms = np.zeros((n_frames, 8, 3))
    offsets = rng.normal(scale=0.3, size=(n_frames, 8, 3))
    for group in GROUPS:
        offsets[:, group] -= offsets[:, group].mean(axis=1, keepdims=True)
    for b, group in enumerate(GROUPS):
        atoms[:, group] = beads[:, b, None] + offsets[:, group]
    return atoms, -8.0 + 0.2 * np.cos(phi)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(1)
    cgmap = CGMap.from_groups(GROUPS, weights="center")
    atoms, y = _frames(300, rng)
    model = ECGRegressor(
        hidden_sizes=(8,), latent_dim=2, n_inducing=32, n_epochs=8, batch_size=60
    ).fit(cgmap.map_positions(atoms), y)
    test_atoms, _ = _frames(6, rng)
    return model, cgmap, test_atoms


class CountingModel:
    def __init__(self, model):
        self.model, self.calls, self.n_beads_ = model, 0, model.n_beads_

    def predict(self, bead_positions, return_std=False):
        self.calls += 1
        return self.model.predict(bead_positions, return_std=return_std)


def test_property_names_and_info(setup):
    model, cgmap, frames = setup
    calc = ECGCalculator(model, property="lumo", cgmap=cgmap)
    assert calc.implemented_properties == ["lumo", "lumo_std"]
    atoms = Atoms("C8", positions=frames[0])
    value, std = calc.get_property("lumo", atoms), calc.get_property("lumo_std", atoms)
    mean_ref, std_ref = model.predict(cgmap.map_positions(frames[0]), return_std=True)
    assert value == pytest.approx(mean_ref[0]) and std == pytest.approx(std_ref[0])
    assert atoms.info["lumo"] == value and atoms.info["lumo_std"] == std
    with pytest.raises(PropertyNotImplementedError):
        calc.get_property("energy", atoms)


def test_results_cached_until_atoms_change(setup):
    model, cgmap, frames = setup
    counting = CountingModel(model)
    calc = ECGCalculator(counting, cgmap=cgmap)
    atoms = Atoms("C8", positions=frames[0])
    first = calc.get_property("homo", atoms)
    calc.get_property("homo_std", atoms)
    calc.get_property("homo", atoms)
    assert counting.calls == 1
    atoms.positions[7] += [0.0, 0.4, -0.3]
    second = calc.get_property("homo", atoms)
    assert counting.calls == 2 and second != first


def test_all_atom_with_map_equals_cg_atoms(setup):
    model, cgmap, frames = setup
    aa = Atoms("C8", positions=frames[1])
    cg = cgmap(aa)
    aa_calc = ECGCalculator(model, cgmap=cgmap)
    cg_calc = ECGCalculator(model)
    assert aa_calc.get_property("homo", aa) == pytest.approx(cg_calc.get_property("homo", cg))
    assert aa_calc.get_property("homo_std", aa) == pytest.approx(
        cg_calc.get_property("homo_std", cg)
    )
    with pytest.raises(ValueError, match="cgmap"):
        cg_calc.get_property("homo", aa)


def test_batch_equals_loop_and_rigid_motion_invariance(setup, rng):
    model, cgmap, frames = setup
    images = [Atoms("C8", positions=p) for p in frames]
    calc = ECGCalculator(model, cgmap=cgmap)
    mean, std = calc.predict(images)
    loop = [
        (
            ECGCalculator(model, cgmap=cgmap).get_property("homo", a.copy()),
            ECGCalculator(model, cgmap=cgmap).get_property("homo_std", a.copy()),
        )
        for a in images
    ]
    np.testing.assert_allclose(mean, [m for m, _ in loop], rtol=1e-7)
    np.testing.assert_allclose(std, [s for _, s in loop], rtol=1e-7)
    assert images[2].info["homo"] == pytest.approx(mean[2])
    moved = [a.copy() for a in images]
    for a in moved:
        a.rotate(rng.uniform(0, 360), rng.normal(size=3), center="COM")
        a.translate(rng.normal(scale=4.0, size=3))
    mean_moved, std_moved = calc.predict(moved)
    np.testing.assert_allclose(mean_moved, mean, rtol=1e-5)
    np.testing.assert_allclose(std_moved, std, rtol=1e-4)


def test_device_argument_moves_model(setup):
    model, cgmap, frames = setup
    calc = ECGCalculator(model, cgmap=cgmap, device="cpu")
    assert calc.model.device == "cpu"
    assert np.isfinite(calc.get_property("homo", Atoms("C8", positions=frames[0])))
