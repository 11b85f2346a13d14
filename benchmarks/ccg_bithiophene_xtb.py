"""Constrained AA sampling (CCG) vs ECG-predicted HOMO noise on GFN2-xTB bithiophene.

Builds (or reuses, ``--store``) a GFN2-xTB store of ``datasets/bithiophene.toml`` resized to
``--size`` frames from ``--replicas`` MD replicas, one frame every ``--md-interval`` steps
(default 6 x 20 ps, 6000 frames: the recipe's own 2 x 10 ps sample too few frames away from
the syn minimum), trains ECG on one of its maps (``--map``, default the 8-bead map;
``--ecg full``: the DFT benchmark's settings, held-out replica tails), and picks among the
store's frames the CG configurations closest to ``--dihedrals`` (|degrees|) of the
inter-ring S-C-C-S bead dihedral (the MD stays in the syn basin, |phi| of 0-91 deg). At each
R* it runs AA Langevin MD with GFN2-xTB (``tblite.ase.TBLite``) restrained to R* by the
paper's k = 5e4 kcal/mol/Å^2 on every bead centre (:func:`cgkit.sampling.constrained_md`),
labels the frames with :class:`cgkit.qc.XTBLabeler`, and unbiases them with eq. 17. The
table compares the CCG std of p(HOMO|R*) with ECG's predicted std at R* and with the
mixture over the restrained frames' CG configurations (eq. 18 cluster-spread term,
:func:`cgkit.ecg.ensemble.ensemble_moments`, eq. 17 weights). Goal: ratio within 25 %.
Example (about 25 min for the build, 3 min for the umbrella windows and 8 min per CCG
configuration on one core)::

    OMP_NUM_THREADS=1 python benchmarks/ccg_bithiophene_xtb.py --out /tmp/ccg
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

import cgkit.data
from cgkit.demo.pipeline import DemoConfig
from cgkit.ecg import ECGRegressor
from cgkit.ecg.ensemble import ensemble_moments
from cgkit.ibi import internal_coordinates
from cgkit.qc import XTBLabeler
from cgkit.sampling.constrained import (
    PAPER_FORCE_CONSTANT,
    ConstrainedSample,
    constrained_md,
    unbias,
    unbias_weights,
)
from cgkit.sampling.recipe import Recipe
from cgkit.sampling.sources import replica_tail_split
from cgkit.sampling.umbrella import umbrella_windows

ROOT = Path(__file__).resolve().parents[1]
FULL_ECG = {"n_inducing": 400, "n_epochs": 40}  # the DFT benchmark's settings


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--recipe", type=Path, default=ROOT / "datasets" / "bithiophene.toml")
    p.add_argument("--store", type=Path, help="existing store of the recipe; built if missing")
    p.add_argument("--out", type=Path, default=Path("/tmp/ccg_bithiophene_xtb"))
    p.add_argument("--size", type=int, default=6000, help="frames of a new build")
    p.add_argument("--replicas", type=int, default=6, help="MD replicas of a new build")
    p.add_argument("--md-interval", type=int, default=20, help="MD steps between stored frames")
    p.add_argument(
        "--ecg",
        choices=("demo", "full"),
        default="full",
        help="demo: the demo's small ECG; full: the DFT benchmark's (80-40-20-10, latent 6, "
        "400 inducing, 40 epochs)",
    )
    p.add_argument(
        "--umbrella",
        default="60,70,80,90,100",
        help="|centres| (deg) of umbrella windows on the bead dihedral whose frames join ECG's "
        "training set ('' for none); a bias on CG coordinates leaves p(E|R) unchanged",
    )
    p.add_argument("--umbrella-steps", type=int, default=3000, help="1 fs steps per window")
    p.add_argument("--umbrella-k", type=float, default=1.5, help="eV/rad^2")
    p.add_argument("--reuse-ccg", action="store_true", help="reuse saved restrained runs")
    p.add_argument("--map", default="8bead")
    p.add_argument(
        "--dihedral-beads",
        default="0,1,5,4",
        help="bead indices of the inter-ring dihedral (8bead map: SA-CA-CB-SB)",
    )
    p.add_argument("--dihedrals", default="0,30,60,90", help="target |dihedral|, degrees")
    p.add_argument("--steps", type=int, default=60000, help="restrained production steps")
    p.add_argument("--equilibration", type=int, default=400)
    p.add_argument("--interval", type=int, default=20, help="steps between labelled frames")
    p.add_argument("--timestep", type=float, default=0.25, help="fs")
    p.add_argument("--force-constant", type=float, default=PAPER_FORCE_CONSTANT, help="eV/Å^2")
    p.add_argument("--blocks", type=int, default=5, help="blocks for the raw std's error")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--workers", type=int, default=1, help="labelling processes of a new build")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def ensure_store(args, recipe) -> Path:
    """The ``--store`` path, or a store built from the recipe under ``--out``."""
    path = args.store if args.store is not None else args.out / f"{recipe.name}.h5"
    if path.exists():
        return path
    from cgkit.data.builder import DatasetBuilder

    tic = time.perf_counter()
    summary = DatasetBuilder.from_recipe(
        recipe, path, n_workers=args.workers, progress=False
    ).build()
    print(f"built {path} in {time.perf_counter() - tic:.0f} s: {summary}")
    return path


def nearest_frame(dihedral: np.ndarray, target: float) -> int:
    """Index of the stored frame whose |bead dihedral| (deg) is closest to ``target``."""
    return int(np.argmin(np.abs(np.abs(dihedral) - target)))


def load_ccg(path: Path, centre: np.ndarray, temperature: float):
    """A restrained run saved by an earlier call at the same R*, or None."""
    if not path.exists():
        return None
    with np.load(path) as data:
        if not np.allclose(data["centre"], centre):
            return None
        return ConstrainedSample(
            positions=data["positions"],
            restraint_energy=data["restraint_energy"],
            bead_deviation=data["bead_deviation"],
            labels={"homo": data["homo"]},
            temperature=temperature,
        )


def umbrella_frames(args, positions, numbers, dihedral, cgmap, quad, temperature, labeler):
    """Positions (F, N, 3) Å, HOMO (F,) eV and bead dihedral (F,) deg of umbrella windows
    at ``--umbrella`` |centres| (each started from the stored frame nearest its centre,
    on that frame's side of 0), cached in ``--out``."""
    centers = [float(c) for c in args.umbrella.split(",") if c.strip()]
    if not centers:
        return np.zeros((0, *positions.shape[1:])), np.zeros(0), np.zeros(0)
    cache = args.out / "umbrella.npz"
    settings = np.array([*centers, args.umbrella_steps, args.umbrella_k, args.seed])
    if cache.exists():
        with np.load(cache) as data:
            if np.array_equal(data["settings"], settings):
                return data["positions"], data["homo"], data["dihedral"]
    from tblite.ase import TBLite

    starts, signed = [], []
    for center in centers:
        pick = nearest_frame(dihedral, center)
        starts.append(Atoms(numbers=numbers, positions=positions[pick]))
        signed.append(center if dihedral[pick] >= 0 else -center)
    tic = time.perf_counter()
    sample = umbrella_windows(
        starts, lambda: TBLite(method="GFN2-xTB", verbosity=0), cgmap, quad, signed,
        force_constant=args.umbrella_k, temperature=temperature, steps=args.umbrella_steps,
        labeler=labeler, seed=args.seed,
    )  # fmt: skip
    print(f"umbrella windows: {len(sample.window)} frames in {time.perf_counter() - tic:.0f} s")
    np.savez(cache, settings=settings, positions=sample.positions, homo=sample.labels["homo"],
             dihedral=sample.dihedral, window=sample.window)  # fmt: skip
    return sample.positions, sample.labels["homo"], sample.dihedral


def reweighted_interval(values, restraint_energy, temperature, n_blocks: int = 20,
                        n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:  # fmt: skip
    """95 % block-bootstrap interval (eV) of the eq. 17 reweighted std: how little a few
    dominant e^{beta V} weights pin it down."""
    rng = np.random.default_rng(seed)
    blocks = np.array_split(np.arange(len(values)), n_blocks)
    stds = []
    for _ in range(n_resamples):
        pick = np.concatenate([blocks[b] for b in rng.integers(0, n_blocks, n_blocks)])
        stds.append(unbias(values[pick], restraint_energy[pick], temperature)[1])
    low, high = np.percentile(stds, [2.5, 97.5])
    return float(low), float(high)


def compare(model, cgmap, centre, sample, n_blocks: int) -> dict:
    """ECG prediction vs restrained and eq. 17 reweighted CCG statistics of the HOMO (eV)."""
    values = sample.labels["homo"]
    weights = unbias_weights(sample.restraint_energy, sample.temperature)
    ecg_mean, ecg_std = (float(v[0]) for v in model.predict(centre[None], return_std=True))
    means, stds = model.predict(cgmap.map_positions(sample.positions), return_std=True)
    _, eq18, spread = ensemble_moments(means, stds)
    _, eq18_rw, _ = ensemble_moments(means, stds, weights)
    n_blocks = min(n_blocks, len(values) // 2)
    block_error = float("nan")
    if n_blocks >= 2:
        block_stds = [b.std() for b in np.array_split(values, n_blocks)]
        block_error = float(np.std(block_stds, ddof=1) / np.sqrt(n_blocks))
    rw_mean, rw_std = sample.unbiased("homo")
    rw_low, rw_high = reweighted_interval(values, sample.restraint_energy, sample.temperature)
    return {
        "ecg_mean": ecg_mean,
        "ecg_std": ecg_std,
        "eq18": eq18,
        "spread": spread,
        "eq18_rw": eq18_rw,
        "raw_mean": float(values.mean()),
        "raw_std": float(values.std()),
        "raw_std_error": block_error,
        "rw_mean": rw_mean,
        "rw_std": rw_std,
        "rw_low": rw_low,
        "rw_high": rw_high,
        "ess": float(1.0 / np.sum(weights**2)),
        "n": len(values),
        "deviation": float(sample.bead_deviation.max()),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    recipe = Recipe.read(args.recipe)
    if args.size is not None:
        recipe = recipe.resized(args.size)
    if recipe.md is not None and (args.replicas or args.md_interval):
        md = replace(recipe.md, replicas=args.replicas or recipe.md.replicas,
                     interval=args.md_interval or recipe.md.interval)  # fmt: skip
        recipe = replace(recipe, md=md)
    store_path = ensure_store(args, recipe)
    with cgkit.data.open(store_path) as store:
        system = store[recipe.name]
        frames = np.asarray(system.ok_frames("homo"), dtype=int)
        homo = np.asarray(system.read_labels("homo", frames), float)
        positions = system.read_positions(frames)
        numbers = np.asarray(system.numbers)
        cgmap = system.maps[args.map]
    bead_positions = cgmap.map_positions(positions)
    quad = [int(i) for i in args.dihedral_beads.split(",")]
    names = cgmap.bead_names or [str(i) for i in range(cgmap.n_beads)]
    dihedral = np.degrees(internal_coordinates(bead_positions, "dihedral", [quad])[:, 0])
    replicas = recipe.md.replicas if recipe.md is not None else 1
    train, test = replica_tail_split(len(frames), replicas, args.test_fraction)

    from tblite.ase import TBLite

    labeler = XTBLabeler(method="GFN2-xTB")
    temperature = recipe.md.temperature
    extra_positions, extra_homo, extra_dihedral = umbrella_frames(
        args, positions, numbers, dihedral, cgmap, quad, temperature, labeler
    )
    if len(extra_homo):
        counts = np.histogram(np.abs(extra_dihedral), bins=[0, 60, 75, 85, 95, 180])[0]
        print(f"umbrella windows at |phi| = {args.umbrella} deg: {len(extra_homo)} frames, "
              f"|phi| counts in 0-60/60-75/75-85/85-95/95-180: {counts.tolist()}")  # fmt: skip
    fit_positions = np.concatenate([bead_positions[train], cgmap.map_positions(extra_positions)])
    fit_homo = np.concatenate([homo[train], extra_homo])
    ecg_settings = DemoConfig(out=args.out).ecg if args.ecg == "demo" else FULL_ECG
    tic = time.perf_counter()
    model = ECGRegressor(**ecg_settings, seed=args.seed).fit(fit_positions, fit_homo)
    mean_test, std_test = model.predict(bead_positions[test], return_std=True)
    rmse = float(np.sqrt(np.mean((mean_test - homo[test]) ** 2)))
    print(
        f"{store_path}: {len(frames)} GFN2-xTB frames; map {args.map} ({cgmap.n_beads} beads); "
        f"ECG {ecg_settings} on {len(train)} + {len(extra_homo)} umbrella frames in "
        f"{time.perf_counter() - tic:.0f} s: "
        f"held-out RMSE {rmse:.4f} eV, mean std {std_test.mean():.4f} eV; dihedral "
        f"{'-'.join(names[i] for i in quad)}: |phi| of the store's frames "
        f"{np.abs(dihedral).min():.0f}..{np.abs(dihedral).max():.0f} deg"
    )

    rows = []
    for target in [float(d) for d in args.dihedrals.split(",")]:
        pick = nearest_frame(dihedral, target)
        centre = bead_positions[pick]
        atoms = Atoms(numbers=numbers, positions=positions[pick])
        tic = time.perf_counter()
        saved = args.out / f"ccg_phi{target:.0f}.npz"
        sample = load_ccg(saved, centre, temperature) if args.reuse_ccg else None
        if sample is None:
            sample = constrained_md(
                atoms,
                TBLite(method="GFN2-xTB", verbosity=0),
                cgmap,
                centre,
                force_constant=args.force_constant,
                temperature=temperature,
                steps=args.steps,
                timestep=args.timestep,
                interval=args.interval,
                equilibration=args.equilibration,
                labeler=labeler,
                seed=args.seed + pick,
            )
            np.savez(
                saved,
                centre=centre,
                positions=sample.positions,
                restraint_energy=sample.restraint_energy,
                homo=sample.labels["homo"],
                bead_deviation=sample.bead_deviation,
            )
        seconds = time.perf_counter() - tic
        rows.append(compare(model, cgmap, centre, sample, args.blocks))
        rows[-1].update(
            target=target,
            phi=float(dihedral[pick]),
            frame=int(frames[pick]),
            held_out=bool(np.isin(pick, test)),
            seconds=seconds,
        )
        print(f"|phi| ~ {target:.0f} deg done in {seconds:.0f} s", flush=True)

    print(
        f"\nCCG: GFN2-xTB Langevin MD restrained to R* (k = {args.force_constant:.0f} eV/Å^2), "
        f"{args.equilibration} + {args.steps} steps of {args.timestep} fs, HOMO every "
        f"{args.interval} steps; energies in eV. ECG std: at R*; eq18: mixture over the "
        "restrained frames' CG configurations (equal weights for the restrained ensemble, "
        "eq. 17 weights for the reweighted one)"
    )
    print(
        f"{'phi*':>5} {'phi':>7} {'frame':>5} {'set':>5} {'ECG mean':>8} {'ECG std':>7} | "
        f"{'raw mean':>8} {'raw std':>7} {'+-':>6} {'eq18':>6} {'spread':>6} {'eq18/raw':>8} | "
        f"{'rw mean':>8} {'rw std':>7} {'rw 95%':>13} {'ESS':>5} {'eq18 rw':>7} {'eq18/rw':>7} | "
        f"{'n':>4} {'maxdev':>6} {'wall s':>6}"
    )
    for r in rows:
        print(
            f"{r['target']:5.0f} {r['phi']:7.1f} {r['frame']:5d} "
            f"{'test' if r['held_out'] else 'train':>5} {r['ecg_mean']:8.3f} "
            f"{r['ecg_std']:7.4f} | {r['raw_mean']:8.3f} {r['raw_std']:7.4f} "
            f"{r['raw_std_error']:6.4f} {r['eq18']:6.4f} {r['spread']:6.4f} "
            f"{r['eq18'] / r['raw_std']:8.2f} | {r['rw_mean']:8.3f} {r['rw_std']:7.4f} "
            f"{r['rw_low']:6.4f}-{r['rw_high']:6.4f} "
            f"{r['ess']:5.1f} {r['eq18_rw']:7.4f} {r['eq18_rw'] / r['rw_std']:7.2f} | "
            f"{r['n']:4d} {r['deviation']:6.4f} {r['seconds']:6.0f}"
        )
    within_raw = sum(abs(r["eq18"] / r["raw_std"] - 1) <= 0.25 for r in rows)
    within_rw = sum(abs(r["eq18_rw"] / r["rw_std"] - 1) <= 0.25 for r in rows)
    inside = sum(r["rw_low"] <= r["eq18_rw"] <= r["rw_high"] for r in rows)
    print(
        f"\nGoal: ECG std (eq. 18) within 25 % of the CCG std: restrained ensemble "
        f"{within_raw}/{len(rows)}, eq. 17 reweighted {within_rw}/{len(rows)} configurations "
        f"(inside the reweighted std's 95 % interval: {inside}/{len(rows)})"
    )
    print(
        "ESS: Kish effective number of frames behind the eq. 17 average; rw 95%: block "
        "bootstrap interval of the reweighted std (20 blocks); '+-': block "
        f"standard error of the raw std ({args.blocks} blocks); maxdev: largest bead offset, Å"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
