"""Labelling throughput: bare tblite loop vs DatasetBuilder with 1 and 2 worker processes.

Run: ``OMP_NUM_THREADS=1 python benchmarks/labeling.py [--frames N] [--store out.h5]``.

Frames are the first N configurations of the shared propyl-bithiophene set (34 atoms) when
present (``CGKIT_SHARED`` or ../shared/data), otherwise jittered copies of 2,2'-bithiophene.
Every variant computes GFN2-xTB energy, forces, orbitals and dipole of the same frames
with one thread per process. The builder times include starting the worker processes and
writing all labels to an HDF5 store. Goals: builder overhead < 3 % over the bare loop,
2-worker speedup >= 1.8x (needs two otherwise idle cores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def load_frames(n_frames: int):
    """(numbers (N,), positions (F, N, 3) Å, description)."""
    root = Path(__file__).resolve().parents[1]
    shared = Path(os.environ.get("CGKIT_SHARED", root.parent / "shared")) / "data"
    npz = shared / "bithiophene_dft" / "train.npz"
    if npz.exists():
        from ase.data import atomic_numbers

        with np.load(npz) as data:
            numbers = np.array([atomic_numbers[str(s)] for s in data["symbols"]])
            return numbers, data["positions"][:n_frames], f"{npz} (34 atoms)"
    from cgkit.sampling import from_smiles

    atoms = from_smiles("c1ccsc1-c1cccs1")
    rng = np.random.default_rng(0)
    positions = atoms.positions + rng.normal(scale=0.03, size=(n_frames, len(atoms), 3))
    return atoms.numbers, positions, "jittered 2,2'-bithiophene (16 atoms)"


def cpu_seconds() -> float:
    """CPU time of this process and its finished child processes (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bare_loop(numbers, positions) -> tuple[float, float]:
    """(wall, CPU) seconds of a plain tblite loop computing the same properties."""
    from tblite.interface import Calculator

    bohr = 0.52917721067
    calc = Calculator("GFN2-xTB", numbers, positions[0] / bohr)
    calc.set("verbosity", 0)
    start, cpu = time.perf_counter(), cpu_seconds()
    for frame in positions:
        calc.update(positions=frame / bohr)
        result = calc.singlepoint()
        for key in ("energy", "gradient", "orbital-energies", "orbital-occupations", "dipole"):
            result.get(key)
    return time.perf_counter() - start, cpu_seconds() - cpu


def builder_run(numbers, positions, n_workers: int, path: Path) -> tuple[float, float]:
    from cgkit.data.builder import DatasetBuilder
    from cgkit.qc import XTBLabeler
    from cgkit.sampling.sources import FramesSource

    source = FramesSource(numbers, positions)
    builder = DatasetBuilder(
        path, source, [XTBLabeler()], system="frames", n_workers=n_workers, progress=False
    )
    start, cpu = time.perf_counter(), cpu_seconds()
    summary = builder.build()
    elapsed = time.perf_counter() - start
    assert summary.labelled == len(positions) and summary.failed["homo"] == 0
    return elapsed, cpu_seconds() - cpu


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args()
    numbers, positions, what = load_frames(args.frames)
    load = os.getloadavg()[0]
    print(f"frames: {len(positions)} from {what}; cores: {os.cpu_count()}; load avg {load:.1f}")
    bare, bare_cpu = bare_loop(numbers, positions)
    per_frame = 1e3 * bare / len(positions)
    print(
        f"bare tblite loop   : {bare:7.2f} s wall {bare_cpu:7.2f} s CPU ({per_frame:.1f} ms/frame)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        one, one_cpu = builder_run(numbers, positions, 1, Path(tmp) / "w1.h5")
        two, two_cpu = builder_run(numbers, positions, 2, Path(tmp) / "w2.h5")
    print(
        f"builder, 1 worker  : {one:7.2f} s wall {one_cpu:7.2f} s CPU "
        f"(overhead {100 * (one / bare - 1):+.1f} % wall, "
        f"{100 * (one_cpu / bare_cpu - 1):+.1f} % CPU)"
    )
    print(
        f"builder, 2 workers : {two:7.2f} s wall {two_cpu:7.2f} s CPU "
        f"(speedup {one / two:.2f}x over 1 worker, {bare / two:.2f}x over the bare loop)"
    )
    load = os.getloadavg()[0]
    if load > 1.5:
        print(f"note: load average {load:.1f} on {os.cpu_count()} cores: timings are disturbed")


if __name__ == "__main__":
    main()
