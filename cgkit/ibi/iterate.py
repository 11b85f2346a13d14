"""Iterative Boltzmann inversion of CG bonded (and optional pair) potentials, with CG MD in ASE."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

from cgkit.ibi.metrics import js_divergence, l1_norm
from cgkit.ibi.potentials import (
    TabulatedPotential,
    boltzmann_inversion,
    histogram_density,
    ibi_update,
)
from cgkit.ibi.topology import InteractionSet, default_grid, sample_values
from cgkit.units import KB_EV


def run_cg_md(
    bead_atoms: Atoms,
    calculator,
    temperature: float,
    steps: int,
    timestep: float = 2.0,
    friction: float = 0.01,
    interval: int = 10,
    equilibration: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Langevin MD of CG Atoms (bead masses) at ``temperature``; returns sampled positions.

    Parameters
    ----------
    bead_atoms : ase.Atoms
        Starting CG configuration; its masses are used. Not modified.
    calculator : ase Calculator
    temperature : float, K
    steps : int
        Production steps after ``equilibration``.
    timestep : float, fs
    friction : float, 1/fs
    interval : int
        Record every ``interval`` steps.
    seed : int

    Returns
    -------
    ndarray, shape (steps // interval, M, 3), Å
    """
    atoms = bead_atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    # fixcm=False: ASE's default centre-of-mass fix runs small systems hot
    dynamics = Langevin(
        atoms,
        timestep * units.fs,
        temperature_K=temperature,
        friction=friction / units.fs,
        fixcm=False,
        rng=rng,
    )
    thermalize_momenta(atoms, temperature, rng=rng)
    if equilibration:
        dynamics.run(equilibration)
    frames = []
    for _ in range(steps // interval):
        dynamics.run(interval)
        frames.append(atoms.positions.copy())
    return np.asarray(frames)


def replicate(potentials, n_beads: int, n_copies: int) -> list[TabulatedPotential]:
    """The same tables applied to ``n_copies`` non-interacting copies of an M-bead molecule.

    Copy c owns beads ``c * n_beads ... (c + 1) * n_beads - 1``.
    """
    offsets = n_beads * np.arange(n_copies)
    return [
        TabulatedPotential(
            p.kind,
            (p.tuples[None] + offsets[:, None, None]).reshape(-1, p.tuples.shape[1]),
            p.grid,
            p.values,
            p.name,
        )
        for p in potentials
    ]


@dataclass
class IBIConfig:
    """Hyperparameters of :class:`IterativeBoltzmannInversion` (units: K, fs, 1/fs, bits)."""

    temperature: float = 300.0
    n_iterations: int = 10
    md_steps: int = 20000
    equilibration: int = 2000
    timestep: float = 2.0
    friction: float = 0.01
    interval: int = 10
    n_chains: int = 1
    alpha: float = 0.3
    smoothing: int = 1
    tolerance: float = 0.02
    seed: int = 0


class IterativeBoltzmannInversion:
    """IBI: U_{i+1} = U_i + alpha kT ln(P_i / P_target) until the CG MD matches the target.

    Parameters are those of :class:`IBIConfig`: ``temperature`` (K) of the AA ensemble and
    the CG Langevin MD, ``n_iterations`` IBI updates after the direct Boltzmann inversion,
    ``md_steps`` production and ``equilibration`` steps of CG MD per iteration,
    ``timestep`` (fs), ``friction`` (1/fs), ``interval`` (steps between recorded frames),
    ``n_chains`` (independent copies of the molecule, started from AA frames spread over
    the target ensemble and simulated together as one non-interacting ASE system, each
    ``equilibration + md_steps`` steps, so one force call serves all; more chains sample slow
    torsions better, since a correct potential keeps the target populations stationary),
    ``alpha`` (update damping, 1 = plain IBI), ``smoothing`` (running-mean passes over each
    update), ``tolerance`` (Jensen-Shannon divergence, bits, every interaction must reach;
    a table whose distribution is already within it is not updated that iteration, so
    converged interactions do not drift on sampling noise), ``seed``.

    Attributes (after :meth:`fit`)
    ------------------------------
    potentials_ : list of TabulatedPotential
        The tables of the best iteration (smallest worst-case JS divergence).
    targets_ : dict name -> target density on ``grids_[name]``
    grids_ : dict name -> bin centres (tabulated and monitored interactions)
    history_ : list of dict
        Per iteration: ``{"iteration", "js": {name: JS}, "l1": {name: norm},
        "densities": {name: density}, "seconds", "ms_per_step"}`` (``ms_per_step``: one
        step of the whole ``n_chains``-copy system); iteration 0 is the direct Boltzmann
        inversion.
    best_iteration_ : int
    trajectory_ : ndarray (T, M, 3), Å, the CG MD of the best iteration
    converged_ : bool, every JS divergence <= tolerance in the best iteration
    calculator_ : TabulatedCGCalculator of ``potentials_``
    """

    def __init__(
        self,
        temperature=300.0,
        n_iterations=10,
        md_steps=20000,
        equilibration=2000,
        timestep=2.0,
        friction=0.01,
        interval=10,
        n_chains=1,
        alpha=0.3,
        smoothing=1,
        tolerance=0.02,
        seed=0,
    ):
        self.temperature = temperature
        self.n_iterations = n_iterations
        self.md_steps = md_steps
        self.equilibration = equilibration
        self.timestep = timestep
        self.friction = friction
        self.interval = interval
        self.n_chains = n_chains
        self.alpha = alpha
        self.smoothing = smoothing
        self.tolerance = tolerance
        self.seed = seed

    def get_config(self) -> IBIConfig:
        """The hyperparameters as a typed dataclass."""
        return IBIConfig(**{k: getattr(self, k) for k in asdict(IBIConfig())})

    def _measure(self, trajectory: np.ndarray) -> tuple[dict, dict, dict]:
        densities, js, l1 = {}, {}, {}
        for interaction in self._measured:
            name, grid = interaction.name, self.grids_[interaction.name]
            values = sample_values(trajectory, interaction)
            dx = grid[1] - grid[0]
            if interaction.kind != "dihedral":
                lo, hi = grid[0] - dx / 2, grid[-1] + dx / 2
                values = values[(values >= lo) & (values <= hi)]
            if values.size == 0:
                density = np.zeros_like(grid)
            else:
                density = histogram_density(values, grid, interaction.kind)
            target = self.targets_[name]
            densities[name] = density
            js[name] = js_divergence(density, target) if density.any() else 1.0
            l1[name] = l1_norm(density, target, dx)
        return densities, js, l1

    def fit(
        self,
        bead_positions: np.ndarray,
        interactions: list[InteractionSet],
        bead_masses: np.ndarray,
        redundant: list[InteractionSet] | None = None,
        monitor: list[InteractionSet] | None = None,
        bins: dict[str, int] | None = None,
        progress: Callable[[dict], None] | None = None,
    ) -> IterativeBoltzmannInversion:
        """Run IBI against the distributions of mapped AA frames.

        Parameters
        ----------
        bead_positions : ndarray, shape (F, M, 3), Å
            Mapped AA frames (the target ensemble); the CG MD chains start from frames
            spread evenly over them (frame 0 for one chain).
        interactions : list of InteractionSet
            Interactions that get a table (e.g. the ``kept`` list of
            :func:`cgkit.ibi.independent_interactions`).
        bead_masses : ndarray, shape (M,), amu
        redundant : list of InteractionSet, optional
            Interactions tabulated from a flat start (no Boltzmann inversion, which would
            double-count the free energy of coordinates already in ``interactions``) that
            receive IBI corrections; they restore correlations the independent set misses.
            E.g. the ``redundant`` list of :func:`cgkit.ibi.independent_interactions`.
        monitor : list of InteractionSet, optional
            Interactions only compared with their target, never tabulated.
        bins : dict kind -> number of bins, optional
        progress : callable, optional
            Called with each history entry as it is made.
        """
        # imported here: cgkit.calculators.tabulated imports this package
        from cgkit.calculators.tabulated import TabulatedCGCalculator

        bead_positions = np.asarray(bead_positions, float)
        if bead_positions.ndim != 3 or bead_positions.shape[-1] != 3:
            raise ValueError(f"bead_positions must be (F, M, 3), got {bead_positions.shape}")
        if not np.all(np.isfinite(bead_positions)):
            frame = int(np.argwhere(~np.isfinite(bead_positions))[0, 0])
            raise ValueError(f"bead_positions: non-finite coordinate in frame {frame}")
        bead_masses = np.asarray(bead_masses, float)
        if bead_masses.shape != (bead_positions.shape[1],) or np.any(bead_masses <= 0):
            raise ValueError(
                f"bead_masses must be {bead_positions.shape[1]} positive masses (amu), "
                f"got shape {bead_masses.shape}"
            )
        if not interactions:
            raise ValueError("no interactions to tabulate")
        redundant = list(redundant or [])
        names = [i.name for i in list(interactions) + redundant + list(monitor or [])]
        if len(set(names)) != len(names):
            raise ValueError("interaction names must be unique")
        kT = KB_EV * self.temperature
        bins = bins or {}
        self._measured = list(interactions) + redundant + list(monitor or [])
        self.grids_, self.targets_ = {}, {}
        for interaction in self._measured:
            values = sample_values(bead_positions, interaction)
            grid = default_grid(interaction.kind, values, bins.get(interaction.kind))
            self.grids_[interaction.name] = grid
            self.targets_[interaction.name] = histogram_density(values, grid, interaction.kind)
        potentials = [
            TabulatedPotential(
                i.kind,
                i.tuples,
                self.grids_[i.name],
                boltzmann_inversion(self.targets_[i.name], self.grids_[i.name], i.kind, kT),
                i.name,
            )
            for i in interactions
        ] + [
            TabulatedPotential(
                i.kind, i.tuples, self.grids_[i.name], np.zeros_like(self.grids_[i.name]), i.name
            )
            for i in redundant
        ]
        n_chains = int(self.n_chains)
        if n_chains < 1 or self.md_steps < self.interval:
            raise ValueError("need n_chains >= 1 and md_steps >= interval")
        n_beads = bead_positions.shape[1]
        chain_starts = np.linspace(0, len(bead_positions) - 1, n_chains).round().astype(int)
        start = Atoms(
            f"X{n_beads * n_chains}",
            positions=bead_positions[chain_starts].reshape(-1, 3),
            masses=np.tile(bead_masses, n_chains),
        )
        n_steps = self.equilibration + self.md_steps
        self.history_ = []
        best_worst = np.inf
        for iteration in range(self.n_iterations + 1):
            tic = time.perf_counter()
            calculator = TabulatedCGCalculator(replicate(potentials, n_beads, n_chains))
            trajectory = run_cg_md(
                start,
                calculator,
                self.temperature,
                self.md_steps,
                self.timestep,
                self.friction,
                self.interval,
                self.equilibration,
                seed=self.seed + iteration,
            ).reshape(-1, n_beads, 3)
            seconds = time.perf_counter() - tic
            densities, js, l1 = self._measure(trajectory)
            entry = {
                "iteration": iteration,
                "js": js,
                "l1": l1,
                "densities": densities,
                "seconds": seconds,
                "ms_per_step": 1e3 * seconds / n_steps,
            }
            self.history_.append(entry)
            if progress is not None:
                progress(entry)
            worst = max(js.values())
            if worst < best_worst:
                best_worst = worst
                self.best_iteration_ = iteration
                self.potentials_ = potentials
                self.trajectory_ = trajectory
            if worst <= self.tolerance or iteration == self.n_iterations:
                break
            potentials = [
                TabulatedPotential(
                    p.kind,
                    p.tuples,
                    p.grid,
                    ibi_update(
                        p.values,
                        densities[p.name],
                        self.targets_[p.name],
                        p.grid,
                        p.kind,
                        kT,
                        self.alpha,
                        self.smoothing,
                    ),
                    p.name,
                )
                if js[p.name] > self.tolerance
                else p  # per-interaction convergence: a matched table is left alone
                for p in potentials
            ]
        self.converged_ = best_worst <= self.tolerance
        self.calculator_ = TabulatedCGCalculator(self.potentials_)
        return self
