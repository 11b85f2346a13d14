"""CG-only HOMO density of states of the DFT bithiophene set (DKL-ECG paper, Fig. 7).

ECG is trained on the 8-bead published map (frames 0..n_train-1, HOMO); IBI tables of the
same map (``--potentials``, e.g. ``potentials.json`` written by
``benchmarks/ibi_bithiophene.py``, or a fresh IBI run with that benchmark's settings) drive
a CG Langevin MD of ``--chains`` non-interacting copies; ECG predicts p(E|R) on every CG
frame and the Gaussians are summed into the CG-only DOS (eq. 20). Its 1-Wasserstein
distance to the AA HOMO histogram (all frames, and the held-out ones) is printed next to
that of the histogram of predicted means (mean-only DOS) and of the test-set DOS (ECG on
the mapped held-out AA frames); goal: W1(CG-only) <= 0.5 W1(mean-only). One PNG like the
paper's Fig. 7 goes to ``--out``. Example::

    OMP_NUM_THREADS=1 python benchmarks/ibi_bithiophene.py --out /tmp/ibi_bt
    OMP_NUM_THREADS=1 python benchmarks/cgonly_dos_bithiophene_dft.py \\
        --potentials /tmp/ibi_bt/potentials.json --out /tmp/cgonly_dos
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from cgkit.calculators.tabulated import TabulatedCGCalculator
from cgkit.ecg import ECGRegressor
from cgkit.ecg.dos import (
    density_of_states,
    gaussian_mixture_density,
    histogram_density,
    wasserstein_to_samples,
)
from cgkit.ecg.plots import plot_dos
from cgkit.ibi import IterativeBoltzmannInversion, run_cg_md, run_ibi
from cgkit.ibi.iterate import replicate
from cgkit.mapping import CGMap

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/bithiophene_dft")
    p.add_argument("--out", type=Path, default=Path("/tmp/cgonly_dos_bithiophene"))
    p.add_argument("--beads", type=int, default=8)
    p.add_argument("--potentials", type=Path, help="IBI tables (JSON); default: run IBI here")
    p.add_argument("--n-train", type=int, default=9000)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--n-inducing", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--kl-weight", type=float, default=1e-4)
    p.add_argument("--chains", type=int, default=20, help="CG MD copies of the molecule")
    p.add_argument("--steps", type=int, default=100_000, help="CG MD steps per copy")
    p.add_argument("--equilibration", type=int, default=5000)
    p.add_argument("--interval", type=int, default=20, help="steps between CG frames")
    p.add_argument("--timestep", type=float, default=2.0, help="fs")
    p.add_argument("--temperature", type=float, default=300.0, help="K")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def ibi_tables(args, cgmap, bead_positions) -> TabulatedCGCalculator:
    """Tables of ``--potentials``, or IBI with the settings of ``benchmarks/ibi_bithiophene.py``."""
    if args.potentials is not None:
        return TabulatedCGCalculator.read(args.potentials)
    ibi = IterativeBoltzmannInversion(
        temperature=args.temperature,
        n_iterations=15,
        md_steps=8000,
        equilibration=300,
        timestep=2.0,
        n_chains=50,
        alpha=0.3,
        smoothing=1,
        tolerance=0.01,
    )
    run_ibi(cgmap, bead_positions, ibi, out_dir=args.out / "ibi", report=print)
    return ibi.calculator_


def cg_trajectory(args, cgmap, tables, bead_positions) -> np.ndarray:
    """CG MD of ``args.chains`` copies started from AA frames spread over the training set."""
    starts = np.linspace(0, args.n_train - 1, args.chains).astype(int)
    system = Atoms(
        f"X{cgmap.n_beads * args.chains}",
        positions=bead_positions[starts].reshape(-1, 3),
        masses=np.tile(cgmap.bead_masses, args.chains),
    )
    calculator = TabulatedCGCalculator(replicate(tables.potentials, cgmap.n_beads, args.chains))
    frames = run_cg_md(
        system,
        calculator,
        args.temperature,
        args.steps,
        timestep=args.timestep,
        interval=args.interval,
        equilibration=args.equilibration,
        seed=args.seed + 1,
    )
    return frames.reshape(-1, cgmap.n_beads, 3)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    cgmap = CGMap.read(args.data / "maps" / f"{args.beads}_bead.map")
    with np.load(args.data / "train.npz") as data:
        bead_positions = np.asarray(cgmap.map_positions(data["positions"]))
        homo = data["homo_eV"]
    train, test = np.arange(args.n_train), np.arange(args.n_train, len(homo))
    print(
        f"bithiophene DFT HOMO, {cgmap.n_beads}-bead map: ECG on frames 0-{args.n_train - 1}, "
        f"held-out {test[0]}-{test[-1]}; {args.n_inducing} inducing points, {args.epochs} epochs"
    )

    tic = time.perf_counter()
    model = ECGRegressor(
        n_inducing=args.n_inducing,
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        kl_weight=args.kl_weight,
        seed=args.seed,
    ).fit(bead_positions[train], homo[train])
    train_seconds = time.perf_counter() - tic
    model.save(args.out / f"ecg_homo_{args.beads}_bead.pt")

    tic = time.perf_counter()
    tables = ibi_tables(args, cgmap, bead_positions)
    ibi_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    trajectory = cg_trajectory(args, cgmap, tables, bead_positions)
    md_seconds = time.perf_counter() - tic
    if not np.all(np.isfinite(trajectory)):
        raise RuntimeError("the CG MD produced non-finite positions")
    print(
        f"ECG training {train_seconds:.0f} s; IBI tables {ibi_seconds:.0f} s "
        f"({'read from ' + str(args.potentials) if args.potentials else 'IBI run here'}); "
        f"CG MD {args.chains} copies x {args.steps} steps of {args.timestep} fs "
        f"({args.chains * args.steps * args.timestep * 1e-6:.1f} ns in all) -> "
        f"{len(trajectory)} CG frames in {md_seconds:.0f} s"
    )

    grid = np.linspace(homo.min() - 0.5, homo.max() + 0.5, 600)
    mean_cg, std_cg = model.predict(trajectory, return_std=True)
    dos_cg = gaussian_mixture_density(mean_cg, std_cg, grid)
    means_cg = histogram_density(mean_cg, grid)
    dos_test = density_of_states(model, bead_positions[test], grid)
    means_test = density_of_states(model, bead_positions[test], grid, mean_only=True)
    aa_test = histogram_density(homo[test], grid)
    rows = [
        ("CG-only DOS (sum of Gaussians)", dos_cg),
        ("CG-only means only", means_cg),
        ("test-set DOS (mapped AA, sum of Gaussians)", dos_test),
        ("test-set means only", means_test),
        ("AA held-out histogram (sampling floor)", aa_test),
    ]
    references = {"all 10k AA": homo, "held-out AA": homo[test]}
    w1 = {
        (name, ref): wasserstein_to_samples(grid, density, values)
        for name, density in rows
        for ref, values in references.items()
    }
    print(
        f"\nCG frames: predicted mean {mean_cg.mean():.3f} eV, std of means {mean_cg.std():.3f} "
        f"eV, mean predicted std {std_cg.mean():.3f} eV; AA HOMO {homo.mean():.3f} +- "
        f"{homo.std():.3f} eV"
    )
    print(f"\n{'density':<44} {'W1 vs all 10k AA (eV)':>22} {'W1 vs held-out AA (eV)':>23}")
    for name, _ in rows:
        print(f"{name:<44} {w1[(name, 'all 10k AA')]:22.4f} {w1[(name, 'held-out AA')]:23.4f}")
    print("\nGoal: W1(CG-only DOS) <= 0.5 W1(CG-only means only)")
    for ref in references:
        ratio = w1[(rows[0][0], ref)] / w1[(rows[1][0], ref)]
        print(f"  vs {ref}: ratio {ratio:.3f} -> {ratio <= 0.5}")
    path = plot_dos(
        grid,
        {"test-set DOS (ECG, mapped AA)": dos_test, "CG-only DOS (ECG on IBI CG MD)": dos_cg},
        homo,
        args.out / "cgonly_dos.png",
        histograms={"CG-only means only": mean_cg},
    )
    print(f"figure {path.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
