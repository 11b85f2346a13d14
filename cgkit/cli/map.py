"""``cgkit map SOURCE MAP -o OUT``: CG frames of a store or trajectory into a store/trajectory."""

from __future__ import annotations

from pathlib import Path

from cgkit.cli import CLIError


def _load_map(source: str, map_arg: str, system: str | None):
    """A map file, or the name of a map stored with the source store's system."""
    from cgkit.data.mapframes import is_store_path
    from cgkit.mapping import CGMap

    if Path(map_arg).exists():
        return CGMap.read(map_arg)
    if is_store_path(source):
        from cgkit.data import open as open_store

        with open_store(source, "r") as store:
            names = store.system_names
            name = system or (names[0] if len(names) == 1 else None)
            if name is None:
                raise CLIError(f"{source}: has systems {names}; choose one with --system")
            maps = store[name].maps
            if map_arg in maps:
                return maps[map_arg]
            raise CLIError(
                f"{map_arg}: neither a map file nor a map of {source}:{name} (has {sorted(maps)})"
            )
    raise CLIError(f"{map_arg}: no such map file")


def run(args) -> int:
    from cgkit.data.mapframes import map_frames

    cgmap = _load_map(args.source, args.map, args.system)
    out = map_frames(
        args.source,
        cgmap,
        args.output,
        system=args.system,
        output_system=args.output_system,
        format=args.format,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "map", help="apply a CG map to a store or trajectory, writing CG frames"
    )
    parser.add_argument("source", help="store (.h5/.zarr) or ASE-readable trajectory")
    parser.add_argument("map", help="map file (DKL-ECG, DBM [map], cgkit JSON) or stored map name")
    parser.add_argument(
        "-o", "--output", required=True, help="new store (.h5/.zarr) or trajectory (.extxyz, ...)"
    )
    parser.add_argument("--system", help="system of a multi-system source store")
    parser.add_argument("--output-system", default="cg", help="system name in an output store")
    parser.add_argument("--format", help="ASE format of a trajectory source")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run)
