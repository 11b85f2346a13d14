"""Canonical (NVT) molecular dynamics sampling with ASE, frames streamed to a store."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.velocitydistribution import Stationary

try:  # ASE >= 3.29
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # pragma: no cover - older ASE
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

THERMOSTATS = ("bussi", "langevin")


@dataclass
class MDResult:
    """Frames sampled by :func:`run_md`.

    Attributes
    ----------
    positions : ndarray, shape (F, N, 3)
        Sampled positions in Å (after equilibration, every ``interval`` steps).
    time : ndarray, shape (F,)
        Simulation time of each frame in fs, counted from the end of equilibration.
    temperature : ndarray, shape (F,)
        Kinetic temperature of each frame in K (degrees of freedom 3N - 3).
    mean_temperature : float
        Kinetic temperature averaged over every production step, in K.
    settings : dict
        Thermostat, temperature, timestep, interval, equilibration steps and seed.
    """

    positions: np.ndarray
    time: np.ndarray
    temperature: np.ndarray
    mean_temperature: float
    settings: dict = field(default_factory=dict)


def make_dynamics(atoms, thermostat: str, temperature: float, timestep: float, rng, coupling):
    """ASE dynamics object sampling the canonical ensemble at fixed centre of mass.

    ``coupling`` is the Langevin friction in 1/fs or the Bussi time constant in fs.
    Langevin runs with ``fixcm=False`` and a :class:`ase.constraints.FixCom`
    constraint (ASE's ``fixcm=True`` runs small molecules too hot); Bussi uses the same
    constraint so both count 3N - 3 degrees of freedom.
    """
    if thermostat == "langevin":
        from ase.md.langevin import Langevin

        return Langevin(
            atoms,
            timestep * units.fs,
            temperature_K=temperature,
            friction=coupling / units.fs,
            fixcm=False,
            rng=rng,
        )
    if thermostat == "bussi":
        from ase.md.bussi import Bussi

        return Bussi(
            atoms, timestep * units.fs, temperature_K=temperature, taut=coupling * units.fs, rng=rng
        )
    raise ValueError(f"unknown thermostat {thermostat!r}; expected one of {THERMOSTATS}")


def run_md(
    atoms,
    calculator,
    temperature: float,
    timestep: float,
    steps: int,
    interval: int,
    thermostat: str = "langevin",
    seed: int = 0,
    store=None,
    equilibration: int = 0,
    coupling: float | None = None,
    chunk: int = 100,
) -> MDResult:
    """Sample the canonical ensemble of one molecule and stream frames into a store.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure; not modified (a copy is simulated).
    calculator : ase.calculators.calculator.Calculator
        Energy/force calculator (e.g. ``tblite.ase.TBLite``).
    temperature : float
        Target temperature in K.
    timestep : float
        Time step in fs.
    steps : int
        Production steps after equilibration.
    interval : int
        Steps between stored frames (the decorrelation interval); ``steps // interval``
        frames are stored.
    thermostat : {"langevin", "bussi"}
        Langevin (friction ``coupling`` 1/fs, default 0.02) or Bussi stochastic velocity
        rescaling (time constant ``coupling`` fs, default 50).
    seed : int
        Seed of the initial Maxwell-Boltzmann velocities and of the thermostat noise;
        the same seed and calculator give the same frames.
    store : object, optional
        A store system with ``append_frames(positions, time=...)``; frames are appended in
        chunks of ``chunk`` as they are produced.
    equilibration : int
        Steps run and discarded before production.

    Returns
    -------
    MDResult
    """
    if thermostat not in THERMOSTATS:
        raise ValueError(f"unknown thermostat {thermostat!r}; expected one of {THERMOSTATS}")
    if interval < 1 or steps < interval:
        raise ValueError(f"need 1 <= interval <= steps, got interval={interval}, steps={steps}")
    if temperature <= 0 or timestep <= 0:
        raise ValueError("temperature and timestep must be positive")
    if len(atoms) < 2:
        raise ValueError("run_md needs at least two atoms")
    if coupling is None:
        coupling = 0.02 if thermostat == "langevin" else 50.0
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.set_constraint(FixCom())
    atoms.calc = calculator
    thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    dyn = make_dynamics(atoms, thermostat, temperature, timestep, rng, coupling)
    if equilibration:
        dyn.run(equilibration)

    n_frames = steps // interval
    positions = np.empty((n_frames, len(atoms), 3))
    temperatures = np.empty(n_frames)
    times = (np.arange(n_frames) + 1) * interval * timestep
    step_temperatures: list[float] = []
    pending: list[int] = []

    def flush():
        if store is not None and pending:
            idx = np.asarray(pending)
            store.append_frames(positions[idx], time=times[idx])
        pending.clear()

    counter = {"step": 0}

    def observe():
        # ASE also calls observers once before the first step; count real steps only
        if dyn.nsteps == start:
            return
        step_temperatures.append(atoms.get_temperature())
        counter["step"] += 1
        if counter["step"] % interval == 0:
            frame = counter["step"] // interval - 1
            positions[frame] = atoms.get_positions()
            temperatures[frame] = step_temperatures[-1]
            pending.append(frame)
            if len(pending) >= chunk:
                flush()

    start = dyn.nsteps
    dyn.attach(observe, interval=1)
    dyn.run(n_frames * interval)
    flush()
    settings = {
        "thermostat": thermostat,
        "coupling": coupling,
        "temperature": temperature,
        "timestep": timestep,
        "interval": interval,
        "steps": steps,
        "equilibration": equilibration,
        "seed": seed,
        "decorrelation_fs": interval * timestep,
    }
    return MDResult(
        positions=positions,
        time=times,
        temperature=temperatures,
        mean_temperature=float(np.mean(step_temperatures)),
        settings=settings,
    )
