"""Frame sources of the dataset builder: xTB or OpenMM MD replicas, or given frames.

MD sources split their frames into replicas (:meth:`blocks`) and name the function a
worker runs for one replica (:meth:`block_call`), so the builder treats them alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cgkit.qc.base import limit_threads


def replica_blocks(n_frames: int, replicas: int, seed: int) -> list[tuple[int, int, int]]:
    """``(start, stop, seed)`` of each MD replica: replica ``r`` makes frames
    ``r*ceil(n/R) .. min((r+1)*ceil(n/R), n)`` with seed ``seed + r``."""
    per = -(-n_frames // replicas)
    return [
        (r * per, min((r + 1) * per, n_frames), seed + r)
        for r in range(replicas)
        if r * per < n_frames
    ]


class _ReplicaSource:
    """What frame sources that run replicas from one starting structure share.

    Subclasses are dataclasses with ``atoms``, ``n_frames``, ``seed`` and a ``settings``
    mapping that may hold ``replicas``.
    """

    @property
    def numbers(self) -> np.ndarray:
        return np.asarray(self.atoms.numbers)

    @property
    def masses(self) -> np.ndarray:
        return np.asarray(self.atoms.get_masses())

    def blocks(self) -> list[tuple[int, int, int]]:
        """``(start, stop, seed)`` of each replica."""
        return replica_blocks(self.n_frames, int(self.settings.get("replicas", 1)), self.seed)


@dataclass(frozen=True)
class MDSource(_ReplicaSource):
    """Frames from canonical GFN-xTB MD (:func:`cgkit.sampling.run_md`) in replicas.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure.
    n_frames : int
        Total frames; replica ``r`` makes frames ``r*ceil(n/R) .. min((r+1)*ceil(n/R), n)``.
    md : dict
        :class:`cgkit.sampling.recipe.MDSpec` fields (method, temperature K, timestep fs,
        interval, equilibration, thermostat, coupling, replicas).
    seed : int
        Replica ``r`` uses seed ``seed + r``.
    charge, multiplicity : int
        Electronic state for the xTB forces.
    """

    atoms: Any
    n_frames: int
    md: dict
    seed: int = 0
    charge: int = 0
    multiplicity: int = 1

    @property
    def settings(self) -> dict:
        """The MD settings, including ``replicas``."""
        return self.md

    def block_call(self, n_frames: int, seed: int, threads: int):
        """``(function, args)`` that runs one replica of ``n_frames`` frames in a worker."""
        args = (self.numbers, np.asarray(self.atoms.positions), self.md, self.charge,
                self.multiplicity, seed, n_frames, threads)  # fmt: skip
        return md_block, args

    def describe(self) -> dict:
        return {
            "kind": "md",
            "numbers": self.numbers.tolist(),
            "start_positions": np.asarray(self.atoms.positions).tolist(),
            "n_frames": self.n_frames,
            "md": dict(self.md),
            "seed": self.seed,
            "charge": self.charge,
            "multiplicity": self.multiplicity,
        }


@dataclass(frozen=True)
class OpenMMSource(_ReplicaSource):
    """Frames from vacuum OpenMM MD of a capped peptide (extra ``md``), in replicas.

    Parameters
    ----------
    sequence : str
        One-letter residue codes between the ACE and NME caps (``"A"``: alanine dipeptide).
    atoms : ase.Atoms
        Starting structure, atoms in :func:`cgkit.sampling.openmm_md.capped_peptide` order.
    n_frames : int
        Total frames; replicas split them as in :meth:`MDSource.blocks`.
    openmm : dict
        :class:`cgkit.sampling.recipe.OpenMMSpec` fields (forcefield files, temperature K,
        timestep fs, interval and equilibration in steps, friction 1/ps, replicas).
    seed : int
        Replica ``r`` uses integrator and velocity seed ``seed + r`` (deterministic on
        OpenMM's Reference platform).
    """

    sequence: str
    atoms: Any
    n_frames: int
    openmm: dict
    seed: int = 0

    @property
    def settings(self) -> dict:
        """The OpenMM settings, including ``replicas``."""
        return self.openmm

    def block_call(self, n_frames: int, seed: int, threads: int):
        """``(function, args)`` that runs one replica of ``n_frames`` frames in a worker."""
        args = (self.sequence, np.asarray(self.atoms.positions), self.openmm, seed, n_frames,
                threads)  # fmt: skip
        return openmm_block, args

    def describe(self) -> dict:
        return {
            "kind": "openmm",
            "sequence": self.sequence,
            "numbers": self.numbers.tolist(),
            "start_positions": np.asarray(self.atoms.positions).tolist(),
            "n_frames": self.n_frames,
            "openmm": dict(self.openmm),
            "seed": self.seed,
        }


def replica_tail_split(
    n_frames: int, n_replicas: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test frame indices holding out the last ``test_fraction`` of every MD replica.

    Replica ``r`` owns frames ``r*ceil(n/R) .. min((r+1)*ceil(n/R), n)``, the layout of
    :meth:`MDSource.blocks`. Consecutive MD frames are correlated, so contiguous held-out
    tails (not every k-th frame) give an honest test error.

    Returns
    -------
    train, test : ndarray of int
    """
    indices = np.arange(n_frames)
    block = -(-n_frames // max(n_replicas, 1))
    start = (indices // block) * block
    length = np.minimum(block, n_frames - start)
    test = indices - start >= np.floor((1.0 - test_fraction) * length)
    return indices[~test], indices[test]


@dataclass(frozen=True)
class FramesSource:
    """Given frames (from a trajectory file or another store).

    Parameters
    ----------
    numbers : ndarray, shape (N,)
    positions : ndarray, shape (F, N, 3), Å
    masses : ndarray, shape (N,), amu, optional
    time : ndarray, shape (F,), fs, optional
    """

    numbers: np.ndarray
    positions: np.ndarray
    masses: np.ndarray | None = None
    time: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return len(self.positions)

    def blocks(self) -> list[tuple[int, int, int]]:
        return [(0, self.n_frames, 0)]

    def describe(self) -> dict:
        digest = hashlib.sha256(np.ascontiguousarray(self.positions).tobytes()).hexdigest()
        return {"kind": "frames", "numbers": np.asarray(self.numbers).tolist(), "sha256": digest}


def frames_from_file(path: str | Path, index: str = ":", system: str | None = None, limit=None):
    """A :class:`FramesSource` from a cgkit store (``.h5``/``.zarr``) or any file ASE reads.

    Raises ValueError naming the frame whose atoms differ from the first frame's.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    if path.suffix in (".h5", ".zarr"):
        import cgkit.data

        with cgkit.data.open(path) as store:
            name = system or (store.system_names[0] if len(store) == 1 else None)
            if name is None:
                raise ValueError(f"{path}: holds systems {store.system_names}; choose system=...")
            sys_ = store[name]
            n = sys_.n_frames if limit is None else min(limit, sys_.n_frames)
            return FramesSource(sys_.numbers, sys_.read_positions(slice(0, n)), sys_.masses)
    from ase.io import read

    frames = read(path, index=index)
    frames = frames if isinstance(frames, list) else [frames]
    frames = frames[:limit] if limit is not None else frames
    if not frames:
        raise ValueError(f"{path}: no frames selected by index {index!r}")
    numbers = frames[0].numbers
    for i, atoms in enumerate(frames):
        if len(atoms) != len(numbers) or np.any(atoms.numbers != numbers):
            raise ValueError(
                f"{path}: frame {i} has atoms {atoms.get_chemical_formula()} but frame 0 has "
                f"{frames[0].get_chemical_formula()}; a system needs the same atoms in every frame"
            )
    positions = np.stack([a.positions for a in frames])
    return FramesSource(numbers, positions, frames[0].get_masses())


def md_block(numbers, start_positions, md: dict, charge, multiplicity, seed, n_frames, threads):
    """Run one MD replica (in a worker process); returns (positions (F, N, 3), time (F,))."""
    from ase import Atoms
    from tblite.ase import TBLite

    from cgkit.sampling.md import run_md

    limit_threads(threads)
    calculator = TBLite(
        method=md.get("method", "GFN2-xTB"),
        charge=charge,
        multiplicity=multiplicity,
        verbosity=0,
    )
    interval = int(md.get("interval", 20))
    result = run_md(
        Atoms(numbers=numbers, positions=start_positions),
        calculator,
        temperature=float(md.get("temperature", 300.0)),
        timestep=float(md.get("timestep", 0.5)),
        steps=n_frames * interval,
        interval=interval,
        thermostat=md.get("thermostat", "langevin"),
        seed=seed,
        equilibration=int(md.get("equilibration", 0)),
        coupling=md.get("coupling"),
    )
    return result.positions, result.time


def openmm_block(sequence: str, start_positions, openmm: dict, seed: int, n_frames: int,
                 threads: int):  # fmt: skip
    """Run one OpenMM replica (in a worker process); returns (positions (F, N, 3) Å,
    time (F,) fs), time counted from the end of the equilibration."""
    from cgkit._optional import require
    from cgkit.sampling.openmm_md import capped_peptide, create_openmm_system, run_openmm_md

    limit_threads(threads)
    app = require("openmm.app")
    structure = capped_peptide(sequence)
    system = create_openmm_system(
        structure.topology, tuple(openmm.get("forcefield", ("amber14-all.xml",))),
        constraints=app.HBonds,
    )  # fmt: skip
    timestep = float(openmm.get("timestep", 2.0))
    positions, _, _, times = run_openmm_md(
        system,
        structure.topology,
        np.asarray(start_positions, dtype=float),
        n_frames,
        interval_fs=int(openmm.get("interval", 500)) * timestep,
        timestep_fs=timestep,
        temperature=float(openmm.get("temperature", 300.0)),
        friction_per_ps=float(openmm.get("friction", 1.0)),
        equilibration_fs=int(openmm.get("equilibration", 10000)) * timestep,
        seed=seed,
    )
    return positions, times
