"""``cgkit cgmp``: rank atoms by importance for a property with CGMP."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cgmp", help="continuously gated message passing (CGMP) atom ranking"
    )
    commands = parser.add_subparsers(dest="cgmp_command", metavar="ACTION")
    rank = commands.add_parser(
        "rank",
        help="rank atoms over repeated runs; print R^2 per resolution and mapping entropy",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    rank.add_argument("source", help="cgkit store (.h5/.zarr) or .npz (symbols, positions, *_eV)")
    rank.add_argument("--label", default="homo", help="property to learn (eV)")
    rank.add_argument("--system", default=None, help="system of a store with several")
    rank.add_argument("--runs", type=int, default=10, help="independent runs (seeds 0..runs-1)")
    rank.add_argument("--frames", type=int, default=None, help="use this many random frames")
    rank.add_argument("--warmup", type=int, default=20, help="epochs at full resolution")
    rank.add_argument("--epochs-per-step", type=int, default=5, help="epochs per resolution")
    rank.add_argument("--hidden", type=int, default=32, help="network width")
    rank.add_argument("--cutoff", type=float, default=5.0, help="radius-graph cutoff (Å)")
    rank.add_argument(
        "--batch-size", type=int, default=64, help="frames per step (smaller for few frames)"
    )
    rank.add_argument("--all-atoms", action="store_true", help="rank hydrogens too")
    rank.add_argument("--out", default=".", help="folder for PNGs and saved rankers")
    rank.add_argument("--save", action="store_true", help="save each ranker as .pt")
    rank.set_defaults(func=run_rank)

    scan = commands.add_parser(
        "scan",
        help="train ECG models on the decimation maps of a saved CGMP ranker",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    scan.add_argument("ranker", help="ranker file written by 'cgkit cgmp rank --save'")
    scan.add_argument("source", help="cgkit store (.h5/.zarr) or .npz with the same molecule")
    scan.add_argument("--label", default=None, help="property (default: the ranker's)")
    scan.add_argument("--system", default=None, help="system of a store with several")
    scan.add_argument(
        "--resolutions", default="8,6,4", help="comma-separated numbers of kept atoms"
    )
    scan.add_argument("--frames", type=int, default=None, help="use this many random frames")
    scan.add_argument("--train-fraction", type=float, default=0.9, help="first part trains")
    scan.add_argument("--epochs", type=int, default=200, help="ECG training epochs")
    scan.add_argument("--n-inducing", type=int, default=1000, help="ECG inducing points")
    scan.add_argument("--batch-size", type=int, default=500, help="ECG batch size")
    scan.add_argument("--seed", type=int, default=0)
    scan.add_argument("-o", "--output", default="cgmp_scan", help="output folder")
    scan.set_defaults(func=run_scan)
    parser.set_defaults(func=lambda args: parser.print_help() or 0)


def run_rank(args) -> int:
    from cgkit.cgmp import CGMPRanker, PropertyData, load_property_data, mapping_entropy
    from cgkit.cgmp.plots import plot_decimation_heatmap, plot_resolution_curves
    from cgkit.cli import CLIError

    if args.runs < 1:
        raise CLIError(f"--runs must be >= 1, got {args.runs}")
    source = Path(args.source)
    if not source.exists():
        raise CLIError(f"{source}: no such file or store")
    data = load_property_data(source, target=args.label, system=args.system)
    if args.frames is not None:
        if not 2 <= args.frames:
            raise CLIError(f"--frames must be >= 2, got {args.frames}")
        keep = np.sort(np.random.default_rng(0).permutation(data.n_frames)[: args.frames])
        data = PropertyData(
            data.numbers, data.positions[keep], data.values[keep], data.masses, data.source
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from ase.data import chemical_symbols

    symbols = [chemical_symbols[z] for z in data.numbers]

    def name(atom: int) -> str:
        return f"{symbols[atom]}{atom}"

    rankers = []
    for seed in range(args.runs):
        ranker = CGMPRanker(
            hidden=args.hidden,
            cutoff=args.cutoff,
            warmup=args.warmup,
            epochs_per_step=args.epochs_per_step,
            batch_size=args.batch_size,
            seed=seed,
        ).fit(data, target=args.label, heavy_atoms_only=not args.all_atoms)
        rankers.append(ranker)
        print(
            f"run {seed}: removal order {' '.join(name(a) for a in ranker.ranking_)} "
            f"({ranker.fit_time_:.0f} s)",
            flush=True,
        )
        if args.save:
            ranker.save(out / f"cgmp_{args.label}_seed{seed}.pt")

    resolutions = sorted(rankers[0].resolution_curve_, reverse=True)
    print(f"\nheld-out R^2 of {args.label} per resolution ({args.runs} runs)")
    print(f"{'M':>4} {'mean':>8} {'sd':>8}")
    for m in resolutions:
        values = np.array([r.resolution_curve_[m] for r in rankers])
        print(f"{m:>4} {values.mean():8.3f} {values.std():8.3f}")

    entropy = mapping_entropy(rankers)
    print("\nmapping entropy (nats) per resolution reached by each removal")
    print(f"{'M':>4} {'Omega':>8}  most likely removed")
    for m, omega, row in zip(
        entropy.resolutions, entropy.entropy, entropy.removal_probability, strict=True
    ):
        atom = int(entropy.atoms[np.argmax(row)])
        print(f"{m:>4} {omega:8.3f}  {name(atom)} (p={row.max():.2f})")

    heatmap = plot_decimation_heatmap(
        entropy,
        out / f"cgmp_{args.label}_decimation.png",
        symbols=symbols,
        title=f"CGMP {args.label}: decimation probability over {args.runs} runs",
    )
    curves = plot_resolution_curves(
        [r.resolution_curve_ for r in rankers],
        out / f"cgmp_{args.label}_r2.png",
        title=f"CGMP {args.label}",
    )
    print(f"\nwrote {heatmap} and {curves}")
    return 0


def run_scan(args) -> int:
    """ECG noise-vs-resolution scan (cgkit.ecg.scan) over CGMP decimation maps."""
    import json

    from cgkit.cgmp import CGMPRanker, load_property_data
    from cgkit.cli import CLIError
    from cgkit.ecg import ECGRegressor
    from cgkit.ecg.scan import format_table, scan_maps

    path = Path(args.ranker)
    if not path.exists():
        raise CLIError(f"{path}: no such ranker file")
    ranker = CGMPRanker.load(path)
    label = args.label or ranker.target_
    try:
        resolutions = [int(m) for m in args.resolutions.split(",")]
    except ValueError:
        raise CLIError(f"--resolutions must be integers, got {args.resolutions!r}") from None
    missing = [m for m in resolutions if m not in ranker.kept_sets_]
    if missing:
        raise CLIError(
            f"{path}: resolutions {missing} were not recorded (have {sorted(ranker.kept_sets_)})"
        )
    data = load_property_data(Path(args.source), target=label, system=args.system)
    if not np.array_equal(data.numbers, ranker.numbers_):
        raise CLIError(f"{args.source}: atoms differ from those the ranker {path} was fitted on")
    if not 0 < args.train_fraction < 1:
        raise CLIError("--train-fraction must be between 0 and 1")
    order = np.random.default_rng(args.seed).permutation(data.n_frames)
    if args.frames is not None:
        order = order[: args.frames]
    positions, values = data.positions[order], data.values[order]
    maps = {f"cgmp{m}": ranker.to_cgmap(m).map_positions(positions) for m in resolutions}
    n_train = int(round(args.train_fraction * len(values)))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    def make_model():
        return ECGRegressor(
            n_inducing=args.n_inducing,
            n_epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
        )

    rows = scan_maps(
        maps, values, np.arange(n_train), np.arange(n_train, len(values)), make_model, out
    )
    print(format_table(rows))
    for m in resolutions:
        atoms = " ".join(str(a) for a in ranker.kept_(m))
        print(f"cgmp{m}: kept atoms {atoms}")
    (out / "scan.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1))
    print(f"wrote {out / 'scan.json'}")
    return 0
