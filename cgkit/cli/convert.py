"""``cgkit convert SOURCE TARGET``: lossless copy between .h5 and .zarr stores."""

from __future__ import annotations


def run(args) -> int:
    from cgkit.data import convert

    target = convert(args.source, args.target, overwrite=args.overwrite)
    print(f"wrote {target}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="copy a store between HDF5 (.h5) and Zarr (.zarr), losslessly"
    )
    parser.add_argument("source", help="existing store")
    parser.add_argument("target", help="new store (.h5 or .zarr)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing target")
    parser.set_defaults(func=run)
