"""CG-only density of states: ECG predictions over a CG MD trajectory (no AA frames).

With tabulated CG potentials (IBI) generating CG configurations and an ECG model
predicting ``N(mu(R), sigma(R)^2)`` of an electronic property for each, the property's
distribution follows from the CG resolution alone (Maier & Jackson 2022, eq. 20).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def trajectory_bead_positions(trajectory) -> np.ndarray:
    """Bead positions (F, M, 3) Å of a CG trajectory given as array, Atoms list or file.

    Parameters
    ----------
    trajectory : ndarray (F, M, 3) | sequence of ase.Atoms | str or Path
        A file is read with ``ase.io.read(path, ":")`` (e.g. an ASE ``.traj`` of bead
        Atoms written during CG MD).
    """
    if isinstance(trajectory, (str, Path)):
        import ase.io

        path = Path(trajectory)
        if not path.exists():
            raise FileNotFoundError(f"{path}: CG trajectory not found")
        trajectory = ase.io.read(path, ":")
    if isinstance(trajectory, np.ndarray):
        positions = np.asarray(trajectory, float)
    else:
        frames = list(trajectory)
        if not frames:
            raise ValueError("the CG trajectory has no frames")
        sizes = {len(atoms) for atoms in frames}
        if len(sizes) != 1:
            raise ValueError(f"CG trajectory frames have different bead counts {sorted(sizes)}")
        positions = np.stack([atoms.positions for atoms in frames])
    if positions.ndim != 3 or positions.shape[-1] != 3 or len(positions) == 0:
        raise ValueError(f"CG trajectory must be (F, M, 3) bead positions, got {positions.shape}")
    bad = ~np.isfinite(positions)
    if bad.any():
        frame, bead = np.argwhere(bad)[0, :2]
        raise ValueError(f"CG trajectory: non-finite position in frame {frame}, bead {bead}")
    return positions


def cg_only_dos(model, trajectory, energy_grid, mean_only: bool = False) -> np.ndarray:
    """Density of an electronic property over a CG trajectory from an ECG model.

    Parameters
    ----------
    model
        Fitted ECG regressor (``predict(bead_positions, return_std=True)``), e.g.
        :class:`cgkit.ecg.ECGRegressor`.
    trajectory : ndarray (F, M, 3) Å | sequence of bead ase.Atoms | trajectory file
        CG configurations, e.g. ``IterativeBoltzmannInversion.trajectory_`` or frames of
        MD with :class:`cgkit.calculators.TabulatedCGCalculator`.
    energy_grid : array_like, shape (G,), eV
    mean_only : bool
        Histogram of the predicted means instead of the average of the predicted
        Gaussians (the deterministic-predictor baseline).

    Returns
    -------
    density : ndarray, shape (G,), 1/eV
    """
    from cgkit.ecg import density_of_states

    return density_of_states(
        model, trajectory_bead_positions(trajectory), energy_grid, mean_only=mean_only
    )
