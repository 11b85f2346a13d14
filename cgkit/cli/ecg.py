"""``cgkit ecg train|predict|scan``: DKL-ECG property models (thin wrappers over cgkit.ecg).

Inputs are either a :mod:`cgkit.data` store (``.h5``/``.zarr``) with a map stored in it,
or an ``.npz`` with ``positions`` (F, N, 3) Å and ``<label>_eV`` arrays plus map files.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_source(parser, scan: bool = False) -> None:
    parser.add_argument("source", help="store (.h5/.zarr) or .npz with positions and labels")
    parser.add_argument("--label", default="homo", help="property label (default homo)")
    if scan:
        parser.add_argument(
            "--maps",
            default="all",
            help="'all' or comma-separated map names (store) or map file stems (npz)",
        )
        parser.add_argument(
            "--map-dir", help="npz input: folder of *.map files (default: <npz dir>/maps)"
        )
    else:
        parser.add_argument(
            "--map", required=True, help="map name in the store, or a map file for an npz"
        )
    parser.add_argument("--system", help="store system (when several have maps)")
    parser.add_argument(
        "--frames", help="frame slice START:STOP (default all frames with an ok label)"
    )


def _add_hyperparameters(parser) -> None:
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--n-inducing", type=int, default=1000)
    parser.add_argument("--latent-dim", type=int, default=6)
    parser.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate")
    parser.add_argument("--kl-weight", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")


def register(subparsers) -> None:
    """Add ``ecg`` with its ``train``, ``predict`` and ``scan`` subcommands."""
    parser = subparsers.add_parser(
        "ecg",
        help="electronic coarse-graining: train/predict/scan deep-kernel GP property models",
        description="DKL-ECG (Maier & Jackson 2022): heteroscedastic GP property predictors.",
    )
    sub = parser.add_subparsers(dest="ecg_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="train a model and save it")
    _add_source(train)
    _add_hyperparameters(train)
    train.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    train.add_argument(
        "--exact", action="store_true", help="train the exact homoscedastic GP baseline instead"
    )
    train.set_defaults(func=run_train)

    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("model", help="model file from 'cgkit ecg train'")
    _add_source(predict)
    predict.add_argument("-o", "--output", help="write frame,mean,std to this .csv")
    predict.add_argument("--threads", type=int, default=1)
    predict.set_defaults(func=run_predict)

    scan = sub.add_parser("scan", help="train one model per map; table + noise-vs-beads PNG")
    _add_source(scan, scan=True)
    _add_hyperparameters(scan)
    scan.add_argument("--train-fraction", type=float, default=0.9, help="first part trains")
    scan.add_argument("-o", "--output", default="ecg_scan", help="output folder")
    scan.set_defaults(func=run_scan)
    dos = sub.add_parser("dos", help="property density over CG configurations (e.g. CG MD)")
    dos.add_argument("model", help="model file from 'cgkit ecg train'")
    dos.add_argument(
        "--cg-trajectory",
        required=True,
        help="CG frames: ASE-readable file of bead Atoms (.traj/.xyz) or .npy (F, M, 3) Å",
    )
    dos.add_argument(
        "--grid",
        default="-10:-6:801",
        help="energy grid START:STOP:POINTS in eV (write --grid=-10:-6:801)",
    )
    dos.add_argument("--mean-only", action="store_true", help="histogram of predicted means")
    dos.add_argument("-o", "--output", help="write energy,density to this .csv")
    dos.set_defaults(func=run_dos)


def _frames(spec, n_frames: int):
    import numpy as np

    from cgkit.cli import CLIError

    if not spec:
        return np.arange(n_frames)
    try:
        start, stop = (int(p) if p else None for p in spec.split(":"))
    except ValueError:
        raise CLIError(f"--frames must look like START:STOP, got {spec!r}") from None
    return np.arange(n_frames)[slice(start, stop)]


def _is_npz(source: str) -> bool:
    return Path(source).suffix == ".npz"


def _load_one(args):
    """(bead_positions (F, M, 3), labels (F,)) of the chosen map and frames."""
    from cgkit.ecg.scan import load_npz_maps, load_store_maps

    if _is_npz(args.source):
        maps, y = load_npz_maps(args.source, [args.map], args.label)
    else:
        import cgkit.data

        with cgkit.data.open(args.source) as store:
            maps, y = load_store_maps(store, args.label, [args.map], args.system)
    positions = next(iter(maps.values()))
    idx = _frames(args.frames, len(y))
    return positions[idx], y[idx], idx


def _regressor(args):
    from cgkit.ecg import ECGRegressor

    return ECGRegressor(
        n_inducing=args.n_inducing,
        latent_dim=args.latent_dim,
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        kl_weight=args.kl_weight,
        seed=args.seed,
        verbose=True,
    )


def run_train(args: argparse.Namespace) -> int:
    import torch

    from cgkit.ecg import ExactGPRegressor

    torch.set_num_threads(args.threads)
    positions, y, _ = _load_one(args)
    model = ExactGPRegressor(seed=args.seed) if args.exact else _regressor(args)
    model.fit(positions, y)
    model.save(args.output)
    mean, std = model.predict(positions, return_std=True)
    rmse = float(((mean - y) ** 2).mean() ** 0.5)
    print(
        f"trained on {len(y)} frames ({positions.shape[1]} beads): train RMSE {rmse:.4f}, "
        f"mean std {float(std.mean()):.4f}; saved {args.output}"
    )
    return 0


def _load_model(path):
    from cgkit.ecg import ECGRegressor, ExactGPRegressor

    try:
        return ECGRegressor.load(path)
    except ValueError as exc:
        if "ExactGPRegressor" not in str(exc):
            raise
        return ExactGPRegressor.load(path)


def run_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from cgkit.ecg.validation import calibration_report

    torch.set_num_threads(args.threads)
    model = _load_model(args.model)
    positions, y, idx = _load_one(args)
    mean, std = model.predict(positions, return_std=True)
    report = calibration_report(y, mean, std)
    print(
        f"{len(y)} frames: RMSE {report['rmse']:.4f}, mean std {report['mean_std']:.4f}, "
        f"NLL {report['nll']:.3f}, coverage 68/95 {100 * report['coverage_68']:.1f}/"
        f"{100 * report['coverage_95']:.1f} %"
    )
    if args.output:
        table = np.column_stack([idx, mean, std])
        np.savetxt(args.output, table, delimiter=",", header="frame,mean,std", fmt="%.8g")
        print(f"wrote {args.output}")
    return 0


def run_scan(args: argparse.Namespace) -> int:
    import json

    import numpy as np
    import torch

    from cgkit.cli import CLIError
    from cgkit.ecg.plots import plot_noise_vs_resolution
    from cgkit.ecg.scan import format_table, load_npz_maps, load_store_maps, scan_maps

    torch.set_num_threads(args.threads)
    names = None if args.maps == "all" else [m.strip() for m in args.maps.split(",")]
    if _is_npz(args.source):
        map_dir = Path(args.map_dir) if args.map_dir else Path(args.source).parent / "maps"
        files = sorted(map_dir.glob("*.map"))
        if names is not None:
            files = [f for f in files if f.stem in names]
            missing = set(names) - {f.stem for f in files}
            if missing:
                raise CLIError(f"no map files {sorted(missing)} in {map_dir}")
        if not files:
            raise CLIError(f"no *.map files in {map_dir}")
        maps, y = load_npz_maps(args.source, files, args.label)
    else:
        import cgkit.data

        with cgkit.data.open(args.source) as store:
            maps, y = load_store_maps(store, args.label, names, args.system)
    idx = _frames(args.frames, len(y))
    maps, y = {k: v[idx] for k, v in maps.items()}, y[idx]
    if not 0 < args.train_fraction < 1:
        raise CLIError("--train-fraction must be between 0 and 1")
    n_train = int(round(args.train_fraction * len(y)))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    def make_model():
        model = _regressor(args)
        model.verbose = False
        return model

    rows = scan_maps(maps, y, np.arange(n_train), np.arange(n_train, len(y)), make_model, out)
    print(format_table(rows))
    (out / "scan.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1))
    plot_noise_vs_resolution([r.to_dict() for r in rows], out / "noise_vs_resolution.png")
    print(f"wrote {out / 'scan.json'} and {out / 'noise_vs_resolution.png'}")
    return 0


def run_dos(args: argparse.Namespace) -> int:
    """Density of states of a property over a CG trajectory (sum of predicted Gaussians)."""
    import numpy as np

    from cgkit.cli import CLIError
    from cgkit.ibi import cg_only_dos

    try:
        start, stop, points = args.grid.split(":")
        grid = np.linspace(float(start), float(stop), int(points))
    except ValueError:
        raise CLIError(f"--grid must look like START:STOP:POINTS, got {args.grid!r}") from None
    source = args.cg_trajectory
    trajectory = np.load(source) if source.endswith(".npy") else source
    density = cg_only_dos(_load_model(args.model), trajectory, grid, mean_only=args.mean_only)
    mean = float(np.sum(grid * density) / np.sum(density))
    print(f"DOS over {source}: mean {mean:.4f} eV")
    if args.output:
        table = np.column_stack([grid, density])
        np.savetxt(args.output, table, delimiter=",", header="energy_eV,density_per_eV", fmt="%.8g")
        print(f"wrote {args.output}")
    return 0
