"""Speed of the force-field relaxation's hot loop on one sPS melt snapshot (5,832 atoms).

Prints, each measured in this run (best of ``--repeats``):

* the Lennard-Jones pair list (8 Å = 6 Å cutoff + 2 Å skin) of :func:`cgkit.backmap.energy.lj_pairs`
  (k-d tree over the atoms and the periodic images near the cell) against the
  27-image ``sparse_distance_matrix`` + ``np.unique`` + ``np.setdiff1d`` version it replaced
  (same pairs asserted);
* one energy + forces evaluation with the pair vectors from the minimum image and autograd,
  against fixed Verlet image shifts with the analytic backward pass (float64 and float32;
  the forces of the two paths agree to the printed relative deviation);
* 100 L-BFGS steps of :class:`cgkit.backmap.ForceFieldRelaxer` from the reference snapshot
  with 0.1 Å of noise, with numpy's BLAS threads left alone and limited to one
  (``blas_threads``, default 1).

Usage::

    OMP_NUM_THREADS=2 python benchmarks/backmap_relax_speed.py \
        --data ../shared/data/sps_melt --threads 2
"""

from __future__ import annotations

import argparse
import time
from itertools import product
from pathlib import Path

import numpy as np
import torch


def reference_pairs(positions, excluded, cutoff, cell):
    """The previous pair list: all 27 images, two k-d trees, np.unique and np.setdiff1d."""
    from scipy.spatial import cKDTree

    n = len(positions)
    frac = (positions @ np.linalg.inv(cell)) % 1.0
    wrapped = frac @ cell
    shifts = np.array(list(product((-1, 0, 1), repeat=3)), dtype=float) @ cell
    images = (wrapped[None] + shifts[:, None]).reshape(-1, 3)
    coo = cKDTree(wrapped).sparse_distance_matrix(cKDTree(images), cutoff, output_type="coo_matrix")
    i, j = coo.row, coo.col % n
    keep = i < j
    key = np.unique(i[keep].astype(np.int64) * n + j[keep])
    ex = np.sort(np.asarray(excluded, dtype=np.int64), axis=1)
    key = np.setdiff1d(key, ex[:, 0] * n + ex[:, 1])
    return np.stack([key // n, key % n], axis=1)


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sps_melt"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from backmap_sps import load_system, snapshot_pairs

    from cgkit.backmap import ForceFieldEnergy, ForceFieldRelaxer, RelaxStage
    from cgkit.backmap.energy import lj_pairs, pair_shifts

    forcefield, topology, cgmap, _owner = load_system(args.data)
    _train, test = snapshot_pairs(args.data)
    aa, cg = test[0]
    positions, cell = aa.positions, aa.cell.array
    excluded = topology.excluded_pairs()
    t_old, old = best_time(lambda: reference_pairs(positions, excluded, 8.0, cell), args.repeats)
    t_new, new = best_time(lambda: lj_pairs(positions, excluded, 8.0, cell), args.repeats)
    assert np.array_equal(old, new)
    print(f"pair list, {len(new)} pairs within 8 Å: 27 images {t_old * 1e3:.0f} ms, "
          f"ghost images {t_new * 1e3:.0f} ms ({t_old / t_new:.1f}x)")  # fmt: skip
    pairs = torch.as_tensor(new)
    for dtype in (torch.float64, torch.float32):
        energy = ForceFieldEnergy.from_topology(topology, forcefield, 6.0, dtype=dtype)
        shifts = torch.as_tensor(pair_shifts(positions, new, cell), dtype=dtype)

        def forces(energy, dtype, shifts):
            x = torch.tensor(positions, dtype=dtype, requires_grad=True)
            e = energy(x, cell=cell, pairs=pairs, shifts=shifts)
            return -torch.autograd.grad(e.sum(), x)[0]

        t_mic, f_mic = best_time(lambda: forces(energy, dtype, None), args.repeats)  # noqa: B023
        t_verlet, f_verlet = best_time(lambda: forces(energy, dtype, shifts), args.repeats)  # noqa: B023
        deviation = float((f_verlet - f_mic).norm() / f_mic.norm())
        print(f"energy + forces {str(dtype)[6:]}: minimum image + autograd {t_mic * 1e3:.1f} ms, "
              f"Verlet shifts + analytic backward {t_verlet * 1e3:.1f} ms "
              f"({t_mic / t_verlet:.2f}x), relative force deviation {deviation:.1e}")  # fmt: skip
    noisy = aa.copy()
    noisy.positions += np.random.default_rng(0).normal(scale=0.1, size=positions.shape)
    for dtype in (torch.float64, torch.float32):
        seconds = {}
        for blas_threads in (None, 1):
            relaxer = ForceFieldRelaxer(forcefield, topology, cgmap, [RelaxStage("lbfgs", 100)],
                                        dtype=dtype, blas_threads=blas_threads)  # fmt: skip
            start = time.perf_counter()
            relaxer.relax(noisy, cg.positions)
            seconds[blas_threads] = time.perf_counter() - start
        ratio = seconds[None] / seconds[1]
        print(f"100 L-BFGS steps ({str(dtype)[6:]}): BLAS threads unchanged "
              f"{seconds[None]:.1f} s, one BLAS thread {seconds[1]:.1f} s "
              f"({ratio:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
