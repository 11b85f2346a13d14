"""IBI end to end on toys whose exact distributions are known."""

from __future__ import annotations

import numpy as np
import pytest

from cgkit.ibi import (
    IBIConfig,
    IterativeBoltzmannInversion,
    cg_interactions,
    independent_interactions,
    internal_coordinates,
)
from cgkit.units import KB_EV

KT = KB_EV * 300.0
K_BOND, R0 = 15.0, 1.6  # eV/Å^2, Å
K_ANGLE, THETA0 = 3.0, np.radians(110.0)  # eV/rad^2, rad


def _sample(density, grid, n, rng):
    cdf = np.cumsum(density)
    return np.interp(rng.uniform(0, cdf[-1], n), cdf, grid)


def harmonic_trimer(n_frames: int, rng) -> np.ndarray:
    """Exact Boltzmann samples of a 3-bead molecule with harmonic bonds and angle, (F, 3, 3)."""
    r_grid = np.linspace(1.0, 2.2, 4001)
    p_r = r_grid**2 * np.exp(-0.5 * K_BOND * (r_grid - R0) ** 2 / KT)
    t_grid = np.linspace(1.0, 2.8, 4001)
    p_t = np.sin(t_grid) * np.exp(-0.5 * K_ANGLE * (t_grid - THETA0) ** 2 / KT)
    r1, r2 = _sample(p_r, r_grid, n_frames, rng), _sample(p_r, r_grid, n_frames, rng)
    theta = _sample(p_t, t_grid, n_frames, rng)
    frames = np.zeros((n_frames, 3, 3))
    frames[:, 0, 0] = r1
    frames[:, 2, 0] = r2 * np.cos(theta)
    frames[:, 2, 1] = r2 * np.sin(theta)
    return frames


def test_trimer_converges_and_recovers_the_potentials(rng):
    frames = harmonic_trimer(6000, rng)
    interactions = cg_interactions(3, [[0, 1], [1, 2]], [[0, 1, 2]])
    ibi = IterativeBoltzmannInversion(
        n_iterations=2, md_steps=2000, equilibration=200, n_chains=8, timestep=2.0, tolerance=0.02
    )
    history = []
    ibi.fit(frames, interactions, np.full(3, 20.0), progress=history.append)
    assert ibi.converged_ and max(history[ibi.best_iteration_]["js"].values()) <= 0.02
    assert len(history) == len(ibi.history_) and history[0]["iteration"] == 0
    # the tables are the known harmonic potentials near their minima (within ~kT/2)
    for potential in ibi.potentials_:
        x0, k = (R0, K_BOND) if potential.kind == "bond" else (THETA0, K_ANGLE)
        near = np.abs(potential.grid - x0) < np.sqrt(2 * KT / k)
        expected = 0.5 * k * (potential.grid[near] - x0) ** 2
        got = potential.values[near] - potential.values[near].min()
        assert np.max(np.abs(got - (expected - expected.min()))) < 0.6 * KT, potential.name
    # the CG MD of the result reproduces the mean bond length and angle
    mapped = internal_coordinates(ibi.trajectory_, "angle", [[0, 1, 2]])
    assert mapped.mean() == pytest.approx(THETA0, abs=0.02)
    assert ibi.get_config() == IBIConfig(**{**IBIConfig().__dict__, **ibi.get_config().__dict__})


def test_redundant_triangle_is_detected_and_iterations_repair_double_counting(rng):
    # a bead triangle: the angles are fixed by the bonds
    frames = harmonic_trimer(6000, rng)
    everything = cg_interactions(3, [[0, 1], [1, 2], [0, 2]], [[0, 1, 2], [1, 0, 2], [0, 2, 1]])
    kept, redundant = independent_interactions(frames[:20], everything)
    assert [i.kind for i in kept] == ["bond"] * 3 and len(redundant) == 3
    # tabulating all six by Boltzmann inversion double-counts; IBI must repair it
    ibi = IterativeBoltzmannInversion(
        n_iterations=4, md_steps=1500, equilibration=200, n_chains=8, alpha=0.5
    )
    ibi.fit(frames, everything, np.full(3, 20.0))
    worst = [max(entry["js"].values()) for entry in ibi.history_]
    assert worst[0] > 0.03  # double-counted start is too narrow
    assert min(worst[1:]) < 0.5 * worst[0]


def test_fit_rejects_bad_input(rng):
    frames = harmonic_trimer(50, rng)
    interactions = cg_interactions(3, [[0, 1], [1, 2]])
    ibi = IterativeBoltzmannInversion(n_iterations=0, md_steps=100)
    bad = frames.copy()
    bad[7, 1, 2] = np.nan
    with pytest.raises(ValueError, match="frame 7"):
        ibi.fit(bad, interactions, np.full(3, 20.0))
    with pytest.raises(ValueError, match="bead_masses"):
        ibi.fit(frames, interactions, np.full(2, 20.0))
    with pytest.raises(ValueError, match=r"\(F, M, 3\)"):
        ibi.fit(frames[0], interactions, np.full(3, 20.0))
    with pytest.raises(ValueError, match="unique"):
        ibi.fit(frames, interactions, np.full(3, 20.0), monitor=interactions[:1])
