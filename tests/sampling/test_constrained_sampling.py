"""Constrained AA sampling at fixed bead centres (CCG) and eq. 17 unbiasing."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.calculators.fd import calculate_numerical_forces
from scipy.spatial.transform import Rotation
from scipy.stats import norm

from cgkit.ecg.ensemble import ensemble_moments
from cgkit.mapping import CGMap
from cgkit.sampling.constrained import (
    PAPER_FORCE_CONSTANT,
    RestrainedCalculator,
    align_to_beads,
    constrained_md,
    unbias,
    unbias_weights,
)
from cgkit.units import KB_EV


@pytest.fixture
def ethanol_map(ethanol_atoms):
    # CH3 | CH2 | OH
    groups = [[0, 6, 7, 8], [1, 4, 5], [2, 3]] if ethanol_atoms[0].symbol == "C" else None
    symbols = ethanol_atoms.get_chemical_symbols()
    heavy = [i for i, s in enumerate(symbols) if s != "H"]
    if groups is None or sorted(sum(groups, [])) != list(range(9)):
        groups = [[h] for h in heavy]
        for i, s in enumerate(symbols):
            if s == "H":
                nearest = min(
                    heavy,
                    key=lambda h: np.linalg.norm(
                        ethanol_atoms.positions[i] - ethanol_atoms.positions[h]
                    ),
                )
                groups[heavy.index(nearest)].append(i)
    return CGMap.from_groups(groups, weights="mass", masses=ethanol_atoms.get_masses())


def test_unbias_is_exact_for_a_harmonic_toy(rng):
    # U = a/2 x^2, V = k/2 (x - x0)^2: samples of U + V are Gaussian with mean k x0/(a+k)
    temperature = 300.0
    kT = KB_EV * temperature
    a, k, x0 = 2.0, 1.0, 0.3
    n = 200_000
    # deterministic samples of U + V (quantiles), so the check is quadrature-exact
    x = norm.ppf((np.arange(n) + 0.5) / n, k * x0 / (a + k), np.sqrt(kT / (a + k)))
    restraint = 0.5 * k * (x - x0) ** 2
    mean, std = unbias(x, restraint, temperature)
    assert mean == pytest.approx(0.0, abs=1e-3)  # the U ensemble has mean 0 (biased: 0.1)
    assert std == pytest.approx(np.sqrt(kT / a), rel=5e-3)
    biased_std = np.std(x)
    assert biased_std < 0.85 * std  # the restraint narrows; unbiasing widens it back
    # a property A = x^2 as well: <x^2>_U = kT / a
    assert unbias(x**2, restraint, temperature)[0] == pytest.approx(kT / a, rel=1e-2)
    # and with random samples it agrees within the statistical error
    random = rng.normal(k * x0 / (a + k), np.sqrt(kT / (a + k)), n)
    mean, std = unbias(random, 0.5 * k * (random - x0) ** 2, temperature)
    assert abs(mean) < 0.05 * np.sqrt(kT / a) and std == pytest.approx(np.sqrt(kT / a), rel=0.05)


def test_unbias_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        unbias([1.0, 2.0], [0.1], 300)
    with pytest.raises(ValueError, match="frame 1"):
        unbias([1.0, np.nan], [0.1, 0.2], 300)
    with pytest.raises(ValueError, match="temperature"):
        unbias([1.0], [0.1], 0)


def test_unbias_weights_boltzmann_ratios_without_overflow():
    kT = KB_EV * 300.0
    restraint = np.array([1000.0, 1000.0 + kT, 1000.0 + 2 * kT])  # e^{beta V} overflows
    weights = unbias_weights(restraint, 300.0)
    np.testing.assert_allclose(weights, np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum())
    # equal restraint energies: every frame counts fully (Kish effective size = F)
    flat = unbias_weights(np.full(50, 0.3), 300.0)
    assert 1.0 / np.sum(flat**2) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="frame 1"):
        unbias_weights([0.1, np.inf], 300.0)


def test_ensemble_moments_is_the_mixture_of_gaussian_predictions(rng):
    means = np.array([-8.0, -7.8, -8.3])
    stds = np.array([0.05, 0.10, 0.02])
    weights = np.array([0.5, 0.3, 0.2])
    mean, std, spread = ensemble_moments(means, stds, weights)
    # sample the mixture: pick a configuration by weight, then E ~ N(mu_i, sigma_i^2)
    n = 400_000
    picks = rng.choice(3, size=n, p=weights)
    energies = rng.normal(means[picks], stds[picks])
    assert mean == pytest.approx(energies.mean(), abs=2e-3)
    assert std == pytest.approx(energies.std(), rel=5e-3)
    # the cluster-spread term is the std of the means alone; with it the width exceeds
    # every single-configuration std
    assert spread == pytest.approx(np.sqrt(weights @ (means - mean) ** 2))
    assert std > stds.max() and std**2 == pytest.approx(weights @ stds**2 + spread**2)
    # identical configurations: no spread, the std is the RMS predicted std
    same = ensemble_moments(np.full(4, -8.0), [0.1, 0.2, 0.1, 0.2])
    assert same[2] == 0.0 and same[1] == pytest.approx(np.sqrt(0.025))
    # integer weights equal repeated configurations; weights need not be normalised
    np.testing.assert_allclose(
        ensemble_moments(means, stds, [2, 1, 1]),
        ensemble_moments(np.r_[means, means[0]], np.r_[stds, stds[0]]),
    )


def test_ensemble_moments_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        ensemble_moments([1.0, 2.0], [0.1])
    with pytest.raises(ValueError, match="configuration 1"):
        ensemble_moments([1.0, 2.0], [0.1, -0.1])
    with pytest.raises(ValueError, match="weights has 1"):
        ensemble_moments([1.0, 2.0], [0.1, 0.1], [1.0])
    with pytest.raises(ValueError, match="not all zero"):
        ensemble_moments([1.0, 2.0], [0.1, 0.1], [0.0, 0.0])


def test_restraint_forces_equal_finite_differences(ethanol_atoms, ethanol_map, rng):
    centres = ethanol_map.map_positions(ethanol_atoms.positions) + rng.normal(
        scale=0.05, size=(3, 3)
    )
    atoms = ethanol_atoms.copy()
    atoms.calc = RestrainedCalculator(EMT(), ethanol_map, centres, force_constant=50.0)
    np.testing.assert_allclose(
        atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-5), atol=2e-5
    )
    atoms.get_potential_energy()
    energy, _ = atoms.calc.restraint(atoms.positions)
    assert atoms.calc.results["restraint_energy"] == pytest.approx(energy) and energy > 0
    # the restraint alone moves no centre of mass when all its beads are displaced alike
    shifted = ethanol_map.map_positions(ethanol_atoms.positions) + np.array([0.1, 0.0, 0.0])
    _, forces = RestrainedCalculator(EMT(), ethanol_map, shifted, 50.0).restraint(
        ethanol_atoms.positions
    )
    np.testing.assert_allclose(forces.sum(0), [50.0 * 0.1 * 3, 0, 0], atol=1e-10)


def test_align_to_beads_recovers_a_rigid_motion(ethanol_atoms, ethanol_map):
    rotation = Rotation.from_euler("xyz", [0.4, -1.0, 2.0]).as_matrix()
    target = ethanol_map.map_positions(ethanol_atoms.positions) @ rotation.T + [3.0, -1.0, 2.0]
    aligned = align_to_beads(ethanol_atoms, ethanol_map, target)
    np.testing.assert_allclose(ethanol_map.map_positions(aligned.positions), target, atol=1e-10)


def test_constrained_md_keeps_bead_centres_within_tolerance(ethanol_atoms, ethanol_map):
    centres = ethanol_map.map_positions(ethanol_atoms.positions)
    sample = constrained_md(
        ethanol_atoms,
        EMT(),
        ethanol_map,
        centres,
        steps=300,
        interval=30,
        equilibration=50,
        labeler=lambda atoms: {"z": atoms.positions[:, 2].mean()},
        seed=1,
    )
    assert sample.positions.shape == (10, 9, 3) and sample.labels["z"].shape == (10,)
    # k = 5e4 kcal/mol/Å^2: thermal bead displacement sqrt(3 kT / k) ~ 0.006 Å
    assert PAPER_FORCE_CONSTANT == pytest.approx(2168.2, rel=1e-3)
    assert sample.bead_deviation.max() < 0.03
    mean_restraint = sample.restraint_energy.mean()
    assert 0 < mean_restraint < 10 * 1.5 * 3 * KB_EV * 300  # ~ equipartition, 3 beads x 3/2 kT
    # the atoms still move: the ensemble is not frozen
    assert np.std(sample.positions[:, 6:9], axis=0).max() > 0.02
    mean, std = sample.unbiased("z")
    assert np.isfinite(mean) and std >= 0
    with pytest.raises(KeyError, match="no label 'homo'"):
        sample.unbiased("homo")


def test_constrained_md_bad_input(ethanol_atoms, ethanol_map):
    centres = ethanol_map.map_positions(ethanol_atoms.positions)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        constrained_md(ethanol_atoms, EMT(), ethanol_map, centres[:2])
    with pytest.raises(ValueError, match="9 atoms.*8"):
        constrained_md(ethanol_atoms[:8], EMT(), ethanol_map, centres)
    with pytest.raises(ValueError, match="force_constant"):
        RestrainedCalculator(EMT(), ethanol_map, centres, force_constant=-1.0)


def test_constrained_xtb_bithiophene_short(bithiophene_npz, bithiophene_dir):
    tblite_ase = pytest.importorskip("tblite.ase")
    from ase import Atoms

    from cgkit.qc import XTBLabeler

    cgmap = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
    atoms = Atoms(list(bithiophene_npz["symbols"]), positions=bithiophene_npz["positions"][0])
    centres = cgmap.map_positions(bithiophene_npz["positions"][0])
    sample = constrained_md(
        atoms,
        tblite_ase.TBLite(method="GFN2-xTB", verbosity=0),
        cgmap,
        centres,
        steps=40,
        interval=20,
        equilibration=0,
        labeler=XTBLabeler(),
        seed=0,
    )
    assert sample.bead_deviation.max() < 0.03
    assert np.all(np.isfinite(sample.labels["homo"])) and sample.labels["homo"].shape == (2,)
    mean, std = sample.unbiased("homo")
    assert -12 < mean < -3 and std < 0.5


def test_unbiased_std_is_corrected_for_the_effective_number_of_frames(rng):
    values = rng.normal(0.0, 1.0, 7)
    # equal restraint energies: the ordinary sample std (ddof = 1)
    assert unbias(values, np.zeros(7), 300.0)[1] == pytest.approx(np.std(values, ddof=1))
    # as numpy's reliability-weighted covariance for unequal weights
    restraint = rng.uniform(0.0, 0.1, 7)
    weights = unbias_weights(restraint, 300.0)
    expected = np.sqrt(np.cov(values, aweights=weights, ddof=1))
    assert unbias(values, restraint, 300.0)[1] == pytest.approx(expected)
    # many draws of 3 dominant frames: the corrected std is unbiased for the variance
    kT = KB_EV * 300.0
    draws = rng.normal(0.0, 1.0, (20000, 3))
    heavy = np.array([0.0, kT, 2 * kT])
    variances = [unbias(d, heavy, 300.0)[1] ** 2 for d in draws]
    assert np.mean(variances) == pytest.approx(1.0, rel=0.03)
