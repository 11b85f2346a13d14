"""Benchmark DBM backmapping against the geometric baseline on the sPS melt.

Trains :class:`cgkit.backmap.DBMBackmapper` on 12 of the 14 shared 568 K snapshot pairs
(or loads a saved model), backmaps the 2 held-out CG snapshots with DBM and with
:class:`cgkit.backmap.GeometricBackmapper`, and compares both to the reference all-atom
snapshots: C-C-C backbone angles, C-C-C-C backbone dihedrals, phenyl impropers, per-chain
LJ energies, RDF of non-bonded carbons (JS divergences to the reference), close contacts
(< 0.7 LJ sigma) and wall and CPU time per frame (``--threads``, default 1). One PNG per quantity
goes to ``--out``. With ``--relax-steps N`` (default 200) a third row, ``dbm+relax``, is the
DBM structure after N L-BFGS steps of the force field restrained to the beads
(:class:`cgkit.backmap.RelaxedBackmapper`; its time includes DBM's); the ``dbm`` row is
DBM alone, as the thesis evaluates it.

Usage (train 400 batches and evaluate; ``--model`` is loaded when it exists, and
``--continue-batches N`` then trains it N more batches before evaluating)::

    OMP_NUM_THREADS=1 python benchmarks/backmap_sps.py --data ../shared/data/sps_melt \
        --out /tmp/backmap_sps --model /tmp/backmap_sps/dbm.pt --n-gibbs 2 --n-candidates 8
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

HELD_OUT = ("sPS_t568_1/aa/100.gro", "sPS_t568_14/aa/688.gro")


def load_system(data: Path):
    from cgkit.backmap.forcefield import read_forcefield, read_itp
    from cgkit.mapping import CGMap, polystyrene_fritz_map

    forcefield = read_forcefield(data / "forcefield" / "ff.txt")
    topology = read_itp(data / "aa_top" / "PS1.itp").replicate(36)
    cgmap = polystyrene_fritz_map(data / "aa_top" / "PS1.itp", data / "mapping" / "PS1.map",
                                  n_chains=36)  # fmt: skip
    dbm_map = CGMap.read(data / "mapping" / "PS1.map").repeat(36)
    atom_to_bead = np.asarray(dbm_map.weights).argmax(axis=0)  # the DBM map's bead of each atom
    return forcefield, topology, cgmap, atom_to_bead


def history_means(history) -> dict:
    """Mean of each loss over the given training records (NaNs of critic-only steps skipped)."""
    keys = ("critic", "generator", "prior")
    return {k: float(np.nanmean([h.get(k, np.nan) for h in history])) for k in keys}


def snapshot_pairs(data: Path):
    from ase.io import read

    train, test = [], []
    for aa_path in sorted((data / "reference_snapshots").glob("*/aa/*.gro")):
        cg_path = aa_path.parent.parent / "cg" / aa_path.name
        pair = (read(aa_path), read(cg_path))
        key = str(aa_path.relative_to(data / "reference_snapshots"))
        (test if key in HELD_OUT else train).append(pair)
    return train, test


def main(argv=None) -> int:
    from cgkit.backmap.networks import INFERENCE_DTYPES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sps_melt"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/backmap_sps"))
    parser.add_argument("--model", type=Path, default=None, help="load if it exists, else save")
    parser.add_argument("--train-batches", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--n-gibbs", type=int, default=2)
    parser.add_argument("--n-candidates", type=int, default=8)
    parser.add_argument("--n-repair", type=int, default=8, help="repair sweeps (0: none)")
    parser.add_argument("--repair-candidates", type=int, default=8)
    parser.add_argument("--no-constrain", action="store_true",
                        help="pick candidates before projecting them on the beads")  # fmt: skip
    parser.add_argument("--inference-dtype", choices=INFERENCE_DTYPES,
                        default="auto", help="generator precision at inference")  # fmt: skip
    parser.add_argument("--n-critic", type=int, default=4)
    parser.add_argument("--prior-mode", choices=("match", "min"), default="match")
    parser.add_argument("--prior-weights", type=float, nargs=3, default=(0.0, 0.1, 1.0))
    parser.add_argument("--prior-nonbonded-scale", type=float, default=0.1)
    parser.add_argument("--prior-soft-core", type=float, default=0.5)
    parser.add_argument(
        "--bond-stiffness",
        type=float,
        default=100.0,
        help="factor on the ff bond constants in DBM's prior and selection (the baseline uses 100)",
    )
    parser.add_argument(
        "--gibbs-fraction",
        type=float,
        default=0.5,
        help="share of DBM training batches in Gibbs mode",
    )
    parser.add_argument("--lr-generator", type=float, default=5e-5)
    parser.add_argument("--lr-critic", type=float, default=1e-4)
    parser.add_argument(
        "--continue-batches",
        type=int,
        default=0,
        help="train a loaded model this many more batches (warm start)",
    )
    parser.add_argument("--relax-steps", type=int, default=200,
                        help="L-BFGS steps of the dbm+relax row (0: no such row)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (2 = 2 cores)")
    parser.add_argument("--save-structures", action="store_true", help="write .xyz to --out")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--skip-dbm", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    from cgkit.backmap import DBMBackmapper, DBMConfig

    forcefield, topology, cgmap, atom_to_bead = load_system(args.data)
    train_pairs, test_pairs = snapshot_pairs(args.data)
    report = {"n_train_frames": len(train_pairs), "n_test_frames": len(test_pairs)}
    model = None
    # inference settings apply to a loaded model too; training settings to a continued one
    inference = dict(n_gibbs=args.n_gibbs, n_candidates=args.n_candidates,
                     inference_dtype=args.inference_dtype,
                     constrain_to_beads=not args.no_constrain, n_repair=args.n_repair,
                     repair_candidates=args.repair_candidates,
                     bond_stiffness=args.bond_stiffness)  # fmt: skip
    training = dict(batch_size=args.batch_size, n_critic=args.n_critic,
                    lr_generator=args.lr_generator, lr_critic=args.lr_critic,
                    prior_mode=args.prior_mode, gibbs_fraction=args.gibbs_fraction,
                    prior_weights=tuple(args.prior_weights),
                    prior_nonbonded_scale=args.prior_nonbonded_scale,
                    prior_soft_core=args.prior_soft_core)  # fmt: skip
    if not args.skip_dbm:
        if args.model is not None and args.model.exists():
            model = DBMBackmapper.load(args.model)
            model.config = replace(model.config, **inference)
            report["model"] = f"loaded {args.model}"
            if args.continue_batches:
                model.warm_start, model.verbose = True, True
                model.config = replace(model.config, max_batches=args.continue_batches,
                                       **training)  # fmt: skip
                start = time.perf_counter()
                model.fit(train_pairs, model.topology_, model.cgmap_)
                report["continued_batches"] = args.continue_batches
                report["continue_seconds"] = time.perf_counter() - start
                report["train_history_mean_last_200"] = history_means(model.history_[-200:])
                model.save(args.model)
        else:
            config = DBMConfig(width=args.width, max_batches=args.train_batches, n_epochs=100,
                               **inference, **training)  # fmt: skip
            start = time.perf_counter()
            model = DBMBackmapper(forcefield, config, verbose=True)
            model.fit(train_pairs, topology, cgmap, atom_to_bead=atom_to_bead)
            report["train_seconds"] = time.perf_counter() - start
            report["train_history_mean_last_200"] = history_means(model.history_[-200:])
            if args.model is not None:
                model.save(args.model)
        report["dbm_config"] = {k: v for k, v in vars(model.config).items()}
    if args.train_only:
        print(json.dumps(report, indent=1, default=str))
        return 0

    from cgkit.backmap import ForceFieldRelaxer, GeometricBackmapper, RelaxStage
    from cgkit.backmap.metrics import compare_structures, plot_comparison

    baseline = GeometricBackmapper(forcefield, topology, cgmap, atom_to_bead=atom_to_bead)
    refine = [RelaxStage("lbfgs", args.relax_steps)]
    relaxer = ForceFieldRelaxer(forcefield, topology, cgmap, refine,
                                bond_stiffness=baseline.bond_stiffness)  # fmt: skip
    names = ["dbm", "dbm+relax", "baseline"] if args.relax_steps > 0 else ["dbm", "baseline"]
    structures = {"reference": [], **{name: [] for name in names}}
    seconds = {name: [] for name in names}
    cpu_seconds = {name: [] for name in names}
    for i, (aa, cg) in enumerate(test_pairs):
        structures["reference"].append(aa)
        for name, method in (("dbm", model), ("baseline", baseline)):
            if method is None:
                continue
            start, start_cpu = time.perf_counter(), time.process_time()
            structures[name].append(method.transform(cg, seed=i))
            seconds[name].append(time.perf_counter() - start)
            cpu_seconds[name].append(time.process_time() - start_cpu)
            if args.save_structures:
                structures[name][-1].write(args.out / f"{name}_{i}.xyz")
            print(f"frame {i} {name}: {seconds[name][-1]:.1f} s wall, "
                  f"{cpu_seconds[name][-1]:.1f} s CPU", flush=True)  # fmt: skip
            if name == "dbm" and args.relax_steps > 0:  # the same DBM structure, relaxed
                start, start_cpu = time.perf_counter(), time.process_time()
                structures["dbm+relax"].append(relaxer.relax(structures["dbm"][-1], cg.positions))
                seconds["dbm+relax"].append(seconds["dbm"][-1] + time.perf_counter() - start)
                cpu_seconds["dbm+relax"].append(
                    cpu_seconds["dbm"][-1] + time.process_time() - start_cpu
                )
                print(f"frame {i} dbm+relax: {seconds['dbm+relax'][-1]:.1f} s wall "
                      "(DBM included)", flush=True)  # fmt: skip
                if args.save_structures:
                    structures["dbm+relax"][-1].write(args.out / f"dbm+relax_{i}.xyz")
    structures = {k: v for k, v in structures.items() if v}
    results = compare_structures(structures, topology, forcefield)
    plot_comparison(results, args.out)
    report["seconds_per_frame"] = {k: float(np.mean(v)) for k, v in seconds.items() if v}
    report["cpu_seconds_per_frame"] = {k: float(np.mean(v)) for k, v in cpu_seconds.items() if v}
    report["baseline_settings"] = {k: getattr(baseline, k) for k in (
        "displacement", "bonded_steps", "soft_steps", "full_steps", "soft_cores", "fmax",
        "lj_cutoff", "restraint_k", "bond_stiffness")}  # fmt: skip
    report["relax_steps"] = args.relax_steps
    report["js_divergence"] = results["js"]
    report["close_contacts"] = results["close_contacts"]
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
