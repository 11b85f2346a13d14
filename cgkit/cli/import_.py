"""``cgkit import``: trajectories (+ label arrays) or a shared data set -> store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgkit.cli import CLIError


def _parse_label(text: str) -> tuple[str, Path, str | None]:
    """``NAME=FILE[:UNIT]`` -> (name, file, unit)."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise CLIError(f"--label {text!r}: expected NAME=FILE or NAME=FILE:UNIT")
    file, _, unit = rest.partition(":")
    return name, Path(file), unit or None


def _load_values(path: Path) -> np.ndarray:
    if not path.exists():
        raise CLIError(f"{path}: no such label file")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        return np.loadtxt(path, ndmin=1)
    except ValueError as exc:
        raise CLIError(f"{path}: not a numeric text file: {exc}") from exc


def _parse_map(text: str):
    from cgkit.mapping import CGMap

    name, sep, file = text.partition("=")
    if not sep:
        name, file = Path(text).stem, text
    if not Path(file).exists():
        raise CLIError(f"--map {text!r}: no such map file {file}")
    return name, CGMap.read(file)


def run(args) -> int:
    from cgkit import data

    if args.dataset is not None:
        if len(args.inputs) != 1:
            raise CLIError(f"--dataset {args.dataset} takes one input directory")
        if args.dataset == "bithiophene-dft":
            out = data.import_bithiophene_dft(
                args.inputs[0], args.output, n_frames=args.frames, overwrite=args.overwrite
            )
        else:
            out = data.import_sps_melt(args.inputs[0], args.output, overwrite=args.overwrite)
        print(f"wrote {out}")
        return 0
    labels, units = {}, {}
    for text in args.label:
        name, file, unit = _parse_label(text)
        labels[name] = _load_values(file)
        if unit:
            units[name] = unit
    maps = dict(_parse_map(text) for text in args.map)
    out = data.import_trajectory(
        args.inputs,
        args.output,
        labels=labels,
        label_units=units,
        format=args.format,
        index=args.index,
        system=args.system,
        maps=maps,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import ASE-readable trajectories with label arrays (or a shared data set) "
        "into a store",
    )
    parser.add_argument("inputs", nargs="+", help="trajectory files (or one data-set directory)")
    parser.add_argument("-o", "--output", required=True, help="new store (.h5 or .zarr)")
    parser.add_argument("--format", help="ASE format of the trajectories (default: guess)")
    parser.add_argument("--index", default=":", help="ASE frame selection per file (default ':')")
    parser.add_argument("--system", default="system", help="system name (default 'system')")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=FILE[:UNIT]",
        help="label values, one per frame, from .npy or text (unit needed if unregistered)",
    )
    parser.add_argument(
        "--map", action="append", default=[], metavar="[NAME=]MAPFILE", help="CG map to store"
    )
    parser.add_argument(
        "--dataset",
        choices=["bithiophene-dft", "sps-melt"],
        help="import a shared data set directory instead of trajectories",
    )
    parser.add_argument("--frames", type=int, help="bithiophene-dft: first N frames only")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run)
