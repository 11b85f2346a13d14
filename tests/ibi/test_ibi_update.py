"""Boltzmann inversion and IBI updates: known potentials recovered, sign, fixed point."""

from __future__ import annotations

import numpy as np
import pytest

from cgkit.ibi import boltzmann_inversion, extrapolate, histogram_density, ibi_update, jacobian
from cgkit.ibi.metrics import js_divergence, l1_norm
from cgkit.units import KB_EV

KT = KB_EV * 300.0


def test_boltzmann_inversion_recovers_harmonic_bond_with_jacobian(rng):
    # bond lengths drawn from p(r) ~ r^2 exp(-k (r - r0)^2 / 2kT)
    k, r0 = 20.0, 1.5
    grid = np.linspace(1.0, 2.0, 101)
    density = grid**2 * np.exp(-0.5 * k * (grid - r0) ** 2 / KT)
    density /= density.sum() * (grid[1] - grid[0])
    potential = boltzmann_inversion(density, grid, "bond", KT, smoothing=0, min_density=0)
    expected = 0.5 * k * (grid - r0) ** 2
    np.testing.assert_allclose(potential - potential.min(), expected - expected.min(), atol=1e-9)
    # without the r^2 Jacobian the minimum would be shifted outward
    assert grid[np.argmin(potential)] == pytest.approx(r0, abs=0.011)


def test_histogram_density_is_normalised_and_wraps_dihedrals(rng):
    grid = -np.pi + 2 * np.pi / 36 * (np.arange(36) + 0.5)
    values = rng.uniform(-np.pi, np.pi, 5000) + 2 * np.pi  # shifted by a period
    density = histogram_density(values, grid, "dihedral")
    assert density.sum() * (grid[1] - grid[0]) == pytest.approx(1.0)
    assert np.all(density > 0)
    with pytest.raises(ValueError, match="no samples"):
        histogram_density([5.0], np.linspace(0, 1, 10), "bond")


def test_ibi_update_sign_and_size():
    grid = np.linspace(1.0, 2.0, 50)
    potential = 0.3 * (grid - 1.5) ** 2
    target = np.exp(-((grid - 1.5) ** 2) / 0.02)
    density = np.exp(-((grid - 1.55) ** 2) / 0.02)  # CG samples too much at large r
    new = ibi_update(potential, density, target, grid, "bond", KT, alpha=1.0, smoothing=0)
    change = (new - new.min()) - (potential - potential.min())
    over = (density > 2 * target) & (target > 1e-3)
    under = (density < 0.5 * target) & (density > 1e-3)
    # too much probability -> potential goes up (relative to where there is too little)
    assert change[over].mean() > change[under].mean() + KT
    # size: kT ln(P/P_target) between two bins, with damping alpha
    half = ibi_update(potential, density, target, grid, "bond", KT, alpha=0.5, smoothing=0)
    i, j = np.flatnonzero(over)[0], np.flatnonzero(under)[-1]
    expected = KT * (np.log(density[i] / target[i]) - np.log(density[j] / target[j]))
    assert (new[i] - new[j]) - (potential[i] - potential[j]) == pytest.approx(expected, rel=1e-9)
    assert (half[i] - half[j]) - (potential[i] - potential[j]) == pytest.approx(0.5 * expected)


@pytest.mark.parametrize("kind", ["bond", "angle", "dihedral"])
def test_target_reproduced_is_a_fixed_point(kind):
    if kind == "dihedral":
        grid = -np.pi + 2 * np.pi / 72 * (np.arange(72) + 0.5)
        target = np.exp(np.cos(grid - 1.0) / 0.3)
    else:
        grid = np.linspace(0.5, 2.5, 80)
        target = jacobian(kind, grid) * np.exp(-((grid - 1.5) ** 2) / 0.05)
    target /= target.sum() * (grid[1] - grid[0])
    potential = boltzmann_inversion(target, grid, kind, KT)
    new = ibi_update(potential, target.copy(), target, grid, kind, KT, alpha=1.0, smoothing=2)
    np.testing.assert_allclose(new, potential, atol=1e-12)
    assert js_divergence(target, target) == pytest.approx(0.0, abs=1e-15)
    assert l1_norm(target, target, grid[1] - grid[0]) == 0.0


def test_extrapolation_rises_outward_and_fills_gaps():
    grid = np.linspace(1.0, 2.0, 40)
    potential = 2.0 * (grid - 1.5) ** 2
    potential[:8] = np.nan
    potential[-6:] = np.nan
    potential[20] = np.nan
    filled = extrapolate(potential, grid, "bond", KT)
    assert np.all(np.isfinite(filled))
    assert np.all(np.diff(filled[:9]) < 0) and np.all(np.diff(filled[-7:]) > 0)
    assert filled[20] > 0.5 * (filled[19] + filled[21])  # bridged and raised
    with pytest.raises(ValueError, match="fewer than 3"):
        extrapolate(np.full(10, np.nan), np.linspace(0, 1, 10), "bond", KT)


def test_js_divergence_bounds():
    p = np.array([1.0, 0, 0, 0])
    q = np.array([0, 0, 0, 1.0])
    assert js_divergence(p, q) == pytest.approx(1.0)
    assert 0 < js_divergence([1, 2, 3, 4], [4, 3, 2, 1]) < 1
