"""Umbrella sampling along a CG coordinate, to cover rare CG configurations with AA frames.

An ECG model learns p(E|R), the distribution of an all-atom property at fixed CG
configuration R. A bias B(R) that depends on the CG coordinates only leaves that
conditional unchanged:

    p_B(r | M(r) = R)  ∝  e^{-beta U(r)} e^{-beta B(R)} delta(M(r) - R)  ∝  p(r | M(r) = R),

so AA frames sampled on U + B are valid training data for p(E|R); only the marginal p(R)
moves. Harmonic windows on a CG dihedral put frames where equilibrium MD rarely goes
(e.g. the 90° barrier between the syn and anti basins of bithiophene), so that the GP's
predictive std there is the learned noise rather than its mean-fit uncertainty. Frames
keep their bias energy (for reweighting back to p(R) where the marginal matters, e.g. a
density of states) and their window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from cgkit.ibi.coordinates import coordinate_gradients
from cgkit.sampling.bias import BiasedCalculator, sample_frames, thermalized_langevin


class CGDihedralUmbrella(BiasedCalculator):
    """An ASE calculator plus a harmonic bias on one dihedral of four CG beads.

    ``B = k/2 d(phi, phi0)^2`` with ``d`` the periodic difference in (-pi, pi] and ``phi``
    the IUPAC dihedral of the bead centres ``M(r)`` (convention of
    :func:`cgkit.ibi.internal_coordinates`); the bias force on atom a is
    ``-k d sum_I W_Ia dphi/dR_I``.

    Parameters
    ----------
    calculator : ase Calculator
        The AA potential U.
    cgmap : cgkit.mapping.CGMap
    beads : sequence of 4 int
        Bead indices I-J-K-L of the dihedral.
    center : float, degrees
        Window centre phi0.
    force_constant : float, eV/rad^2

    Results: ``energy`` = U + B (eV), ``forces`` (N, 3) eV/Å, ``bias_energy`` B (eV).
    """

    def __init__(self, calculator, cgmap, beads: Sequence[int], center: float,
                 force_constant: float, **kwargs):  # fmt: skip
        beads = np.asarray(beads, dtype=np.int64).reshape(-1)
        if beads.shape != (4,) or beads.min() < 0 or beads.max() >= cgmap.n_beads:
            raise ValueError(
                f"need 4 bead indices in 0..{cgmap.n_beads - 1} for the dihedral, got {beads}"
            )
        if not force_constant > 0:
            raise ValueError(f"force_constant must be > 0 eV/rad^2, got {force_constant}")
        super().__init__(calculator, cgmap, **kwargs)
        self.beads = beads
        self.center = float(center)
        self.force_constant = float(force_constant)

    def dihedral(self, positions: np.ndarray) -> float:
        """The biased CG dihedral (degrees) of atom ``positions`` (N, 3) Å."""
        values, _ = coordinate_gradients(self._weights @ positions, "dihedral", self.beads[None])
        return float(np.degrees(values[0]))

    def bias(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias energy B (eV) and its forces (N, 3) eV/Å at atom ``positions`` (N, 3) Å."""
        bead_positions = self._weights @ positions
        values, gradients = coordinate_gradients(bead_positions, "dihedral", self.beads[None])
        offset = np.angle(np.exp(1j * (values[0] - np.radians(self.center))))
        bead_gradient = np.zeros_like(bead_positions)
        bead_gradient[self.beads] = self.force_constant * offset * gradients[0]
        return 0.5 * self.force_constant * offset**2, -(self._weights.T @ bead_gradient)


@dataclass
class UmbrellaSample:
    """Frames of umbrella windows along a CG dihedral.

    Attributes
    ----------
    positions : ndarray, shape (F, N, 3), Å
    window : ndarray, shape (F,), int
        Index into ``centers`` of each frame's window.
    centers : ndarray, shape (W,), degrees
    dihedral : ndarray, shape (F,), degrees
        The biased CG dihedral of each frame.
    bias_energy : ndarray, shape (F,), eV
    labels : dict name -> ndarray (F, ...)
    temperature : float, K
    force_constant : float, eV/rad^2
    """

    positions: np.ndarray
    window: np.ndarray
    centers: np.ndarray
    dihedral: np.ndarray
    bias_energy: np.ndarray
    labels: dict
    temperature: float
    force_constant: float


def umbrella_windows(
    starts: Sequence[Atoms],
    calculator_factory: Callable[[], Calculator],
    cgmap,
    beads: Sequence[int],
    centers: Sequence[float],
    force_constant: float = 1.5,
    temperature: float = 300.0,
    steps: int = 3000,
    timestep: float = 1.0,
    friction: float = 0.01,
    interval: int = 10,
    equilibration: int = 500,
    labeler: Callable[[Atoms], dict] | None = None,
    seed: int = 0,
) -> UmbrellaSample:
    """AA Langevin MD in harmonic windows on a CG dihedral, one run per window.

    Parameters
    ----------
    starts : sequence of ase.Atoms, one per window
        Starting structures (e.g. the stored frames closest to each centre). Not modified.
    calculator_factory : callable
        Returns a fresh AA calculator (e.g. ``lambda: TBLite(method="GFN2-xTB")``).
    cgmap : cgkit.mapping.CGMap
    beads : sequence of 4 int
        Bead indices of the dihedral.
    centers : sequence of float, degrees
        Window centres.
    force_constant : float, eV/rad^2
        Default 1.5: a window about 8° wide (sqrt(kT/k)) at 300 K.
    temperature : float, K
    steps, equilibration : int
        Production and discarded steps per window.
    timestep : float, fs
    friction : float, 1/fs
    interval : int
        Record (and label) every ``interval`` steps.
    labeler : callable, optional
        ``labeler(atoms) -> dict`` of properties (e.g. :class:`cgkit.qc.XTBLabeler`).
    seed : int
        Window w uses ``seed + w``.

    Returns
    -------
    UmbrellaSample
    """
    centers = np.asarray(centers, float).reshape(-1)
    if len(starts) != len(centers):
        raise ValueError(f"need one start structure per window: {len(starts)} for {len(centers)}")
    if steps < interval or interval < 1:
        raise ValueError(f"need steps >= interval >= 1, got steps={steps}, interval={interval}")
    positions, window, dihedral, bias_energy = [], [], [], []
    labels: dict[str, list] = {}
    for w, (start, center) in enumerate(zip(starts, centers, strict=True)):
        if len(start) != cgmap.n_atoms:
            raise ValueError(
                f"window {w}: the map expects {cgmap.n_atoms} atoms, the start has {len(start)}"
            )
        biased = CGDihedralUmbrella(calculator_factory(), cgmap, beads, center, force_constant)
        system = Atoms(start.numbers, positions=start.positions)
        system.calc = biased
        dynamics = thermalized_langevin(system, temperature, timestep, friction,
                                        np.random.default_rng(seed + w))  # fmt: skip
        for frame_positions in sample_frames(dynamics, system, steps, interval, equilibration,
                                             labeler, labels):  # fmt: skip
            positions.append(frame_positions)
            window.append(w)
            dihedral.append(biased.dihedral(frame_positions))
            bias_energy.append(biased.bias(frame_positions)[0])
    return UmbrellaSample(
        positions=np.asarray(positions),
        window=np.asarray(window),
        centers=centers,
        dihedral=np.asarray(dihedral),
        bias_energy=np.asarray(bias_energy),
        labels={k: np.asarray(v) for k, v in labels.items()},
        temperature=float(temperature),
        force_constant=float(force_constant),
    )
