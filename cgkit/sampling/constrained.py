"""Constrained AA sampling at a fixed CG configuration (CCG) and its unbiasing.

For a CG configuration R*, AA MD runs on U + V with harmonic restraints on every bead
centre, V = k/2 sum_I |M(r)_I - R*_I|^2 (Maier & Jackson, J. Chem. Phys. 157, 174102,
2022: k ~ 5e4 kcal/mol/Å^2 and a small timestep). The restraint force on atom a is
-k sum_I W_Ia (M(r)_I - R*_I), through the linear map weights W. Properties A of the
sampled frames are unbiased with paper eq. 17,
<A>_U = <A e^{beta V}>_{U+V} / <e^{beta V}>_{U+V}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from cgkit.mapping.superposition import kabsch_rotation
from cgkit.sampling.bias import BiasedCalculator, sample_frames, thermalized_langevin
from cgkit.units import KB_EV, KJMOL_EV

#: the paper's restraint constant, 5e4 kcal/mol/Å^2, in eV/Å^2
PAPER_FORCE_CONSTANT = 5e4 * 4.184 * KJMOL_EV


class RestrainedCalculator(BiasedCalculator):
    """An ASE calculator plus harmonic restraints of the bead centres of a CG map.

    Parameters
    ----------
    calculator : ase Calculator
        The AA potential U (any ASE calculator giving energy and forces).
    cgmap : cgkit.mapping.CGMap
        Linear map of the Atoms to beads.
    bead_positions : ndarray, shape (M, 3), Å
        The restraint centres R*.
    force_constant : float, eV/Å^2

    Results: ``energy`` = U + V (eV), ``forces`` (N, 3) eV/Å, and ``restraint_energy`` V.
    """

    bias_result = "restraint_energy"

    def __init__(self, calculator, cgmap, bead_positions, force_constant: float, **kwargs):
        bead_positions = np.asarray(bead_positions, float)
        if bead_positions.shape != (cgmap.n_beads, 3):
            raise ValueError(
                f"restraint centres must be ({cgmap.n_beads}, 3) for this map, got "
                f"{bead_positions.shape}"
            )
        if not np.all(np.isfinite(bead_positions)):
            raise ValueError("restraint centres contain NaN or inf")
        if not force_constant > 0:
            raise ValueError(f"force_constant must be > 0 eV/Å^2, got {force_constant}")
        super().__init__(calculator, cgmap, **kwargs)
        self.bead_positions = bead_positions
        self.force_constant = float(force_constant)

    def restraint(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Restraint energy V (eV) and its forces (N, 3) eV/Å at atom ``positions`` (N, 3) Å."""
        deviation = self._weights @ positions - self.bead_positions
        energy = 0.5 * self.force_constant * float(np.sum(deviation**2))
        return energy, -self.force_constant * (self._weights.T @ deviation)

    bias = restraint


def align_to_beads(atoms: Atoms, cgmap, bead_positions: np.ndarray) -> Atoms:
    """Copy of ``atoms`` rigidly moved so its mapped beads best fit ``bead_positions`` (Kabsch).

    Parameters
    ----------
    atoms : ase.Atoms, N atoms
    cgmap : cgkit.mapping.CGMap
    bead_positions : ndarray, shape (M, 3), Å
    """
    moved = atoms.copy()
    mapped = cgmap.map_positions(atoms.positions)
    weights = cgmap.bead_masses if cgmap.bead_masses is not None else np.ones(cgmap.n_beads)
    weights = np.asarray(weights, float) / np.sum(weights)
    centre_mapped = weights @ mapped
    centre_target = weights @ bead_positions
    rotation = kabsch_rotation(mapped - centre_mapped, bead_positions - centre_target, weights)
    moved.positions = (atoms.positions - centre_mapped) @ rotation + centre_target
    return moved


@dataclass
class ConstrainedSample:
    """Frames of a restrained AA run.

    Attributes
    ----------
    positions : ndarray, shape (F, N, 3), Å
    restraint_energy : ndarray, shape (F,), eV
        V of each frame (the bias removed by :func:`unbias`).
    bead_deviation : ndarray, shape (F,), Å
        Largest |M(r)_I - R*_I| over beads, per frame.
    labels : dict name -> ndarray (F, ...)
        What ``labeler`` returned for each frame (empty without a labeler).
    temperature : float, K
    """

    positions: np.ndarray
    restraint_energy: np.ndarray
    bead_deviation: np.ndarray
    labels: dict
    temperature: float

    def unbiased(self, name: str) -> tuple[float, float]:
        """Unbiased mean and std of scalar label ``name`` (paper eq. 17)."""
        if name not in self.labels:
            raise KeyError(f"no label {name!r}; have {sorted(self.labels)}")
        return unbias(self.labels[name], self.restraint_energy, self.temperature)


def constrained_md(
    atoms: Atoms,
    calculator,
    cgmap,
    bead_positions: np.ndarray,
    force_constant: float = PAPER_FORCE_CONSTANT,
    temperature: float = 300.0,
    steps: int = 2000,
    timestep: float = 0.25,
    friction: float = 0.02,
    interval: int = 20,
    equilibration: int = 200,
    labeler: Callable[[Atoms], dict] | None = None,
    seed: int = 0,
) -> ConstrainedSample:
    """AA Langevin MD restrained to the CG configuration ``bead_positions``.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting AA structure (N atoms); rigidly aligned onto the restraint centres first
        (:func:`align_to_beads`). Not modified.
    calculator : ase Calculator
        AA potential (e.g. ``tblite.ase.TBLite(method="GFN2-xTB")``, EMT, LJ).
    cgmap : cgkit.mapping.CGMap
    bead_positions : ndarray, shape (M, 3), Å
        The CG configuration R*.
    force_constant : float, eV/Å^2
        Default: the paper's 5e4 kcal/mol/Å^2 (about 2170 eV/Å^2).
    temperature : float, K
    steps : int
        Production steps after ``equilibration``.
    timestep : float, fs
        Small: the restraint vibration of a 25 amu bead has a period of about 7 fs.
    friction : float, 1/fs
    interval : int
        Record (and label) every ``interval`` steps.
    labeler : callable, optional
        ``labeler(atoms) -> dict`` of properties (e.g. :class:`cgkit.qc.XTBLabeler`).
    seed : int

    Returns
    -------
    ConstrainedSample
    """
    bead_positions = np.asarray(bead_positions, float)
    if len(atoms) != cgmap.n_atoms:
        raise ValueError(f"the map expects {cgmap.n_atoms} atoms, the Atoms have {len(atoms)}")
    if steps < interval or interval < 1:
        raise ValueError(f"need steps >= interval >= 1, got steps={steps}, interval={interval}")
    restrained = RestrainedCalculator(calculator, cgmap, bead_positions, force_constant)
    system = align_to_beads(atoms, cgmap, bead_positions)
    system.calc = restrained
    dynamics = thermalized_langevin(system, temperature, timestep, friction,
                                    np.random.default_rng(seed))  # fmt: skip
    positions, restraint_energy, deviation = [], [], []
    labels: dict[str, list] = {}
    for frame_positions in sample_frames(dynamics, system, steps, interval, equilibration,
                                         labeler, labels):  # fmt: skip
        positions.append(frame_positions)
        energy, _ = restrained.restraint(frame_positions)
        restraint_energy.append(energy)
        offsets = cgmap.map_positions(frame_positions) - bead_positions
        deviation.append(float(np.max(np.linalg.norm(offsets, axis=1))))
    return ConstrainedSample(
        positions=np.asarray(positions),
        restraint_energy=np.asarray(restraint_energy),
        bead_deviation=np.asarray(deviation),
        labels={k: np.asarray(v) for k, v in labels.items()},
        temperature=float(temperature),
    )


def unbias_weights(restraint_energy, temperature: float) -> np.ndarray:
    """Normalised eq. 17 weights ``e^{beta V_f} / sum_g e^{beta V_g}`` of restrained frames.

    Formed with the largest exponent subtracted, so large restraint energies do not
    overflow. ``1 / sum(w**2)`` is the effective number of frames (Kish) behind an
    unbiased average. Check it: with restraints much stiffer than U along the 3M bead
    coordinates, beta V of the restrained frames is close to Gamma(3M/2)-distributed, so
    the weights e^{beta V} are heavy-tailed and a few frames with the largest V carry the
    average however long the run.

    Parameters
    ----------
    restraint_energy : array_like, shape (F,), eV
        V of each frame.
    temperature : float, K

    Returns
    -------
    weights : ndarray, shape (F,), summing to 1
    """
    restraint_energy = np.asarray(restraint_energy, float).reshape(-1)
    if restraint_energy.size == 0:
        raise ValueError("no restraint energies")
    if not np.all(np.isfinite(restraint_energy)):
        frame = int(np.flatnonzero(~np.isfinite(restraint_energy))[0])
        raise ValueError(f"non-finite restraint energy in frame {frame}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 K, got {temperature}")
    exponent = restraint_energy / (KB_EV * temperature)
    weights = np.exp(exponent - exponent.max())
    return weights / weights.sum()


def unbias(values, restraint_energy, temperature: float) -> tuple[float, float]:
    """Mean and std of a property over U from samples of U + V (paper eq. 17).

    <A>_U = <A e^{beta V}>_{U+V} / <e^{beta V}>_{U+V}, and the std from the reweighted
    second moment (weights from :func:`unbias_weights`), corrected for the effective number
    of frames n_eff = 1 / sum(w^2) like an unbiased sample variance (divided by
    1 - 1/n_eff; without it, a std carried by a few dominant weights comes out too small).

    Parameters
    ----------
    values : array_like, shape (F,)
        Property A of each frame (e.g. HOMO energy, eV).
    restraint_energy : array_like, shape (F,), eV
        V of each frame.
    temperature : float, K

    Returns
    -------
    mean, std : float, units of ``values``
    """
    values = np.asarray(values, float).reshape(-1)
    restraint_energy = np.asarray(restraint_energy, float).reshape(-1)
    if values.shape != restraint_energy.shape or values.size == 0:
        raise ValueError(
            f"values ({values.shape}) and restraint energies ({restraint_energy.shape}) must "
            "be non-empty and of equal length"
        )
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(restraint_energy))):
        frame = int(np.flatnonzero(~np.isfinite(values + restraint_energy))[0])
        raise ValueError(f"non-finite value or restraint energy in frame {frame}")
    weights = unbias_weights(restraint_energy, temperature)
    mean = float(weights @ values)
    variance = max(float(weights @ (values - mean) ** 2), 0.0)
    concentration = float(np.sum(weights**2))  # 1 / Kish effective size
    if concentration < 1.0:
        # reliability-weights correction (numpy's cov with aweights, ddof=1): the plain
        # weighted variance of n_eff effective frames is low by (n_eff - 1) / n_eff,
        # which matters when a few e^{beta V} weights dominate
        variance /= 1.0 - concentration
    return mean, float(np.sqrt(variance))
