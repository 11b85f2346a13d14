"""``cgkit info PATH``: systems, frames, labels (units, status counts), maps, provenance."""

from __future__ import annotations

import json

from cgkit.cli import CLIError


def describe(path: str) -> dict:
    """A JSON-able summary of the store at ``path``."""
    from ase.symbols import Symbols

    from cgkit.data import open as open_store

    with open_store(path, "r") as store:
        summary = {
            "path": str(store.path),
            "backend": store.backend,
            "schema_version": store.schema_version,
            "cgkit_version": store.cgkit_version,
            "created": store.created,
            "provenance": store.provenance,
            "systems": {},
        }
        for name in store.system_names:
            system = store[name]
            summary["systems"][name] = {
                "atoms": system.n_atoms,
                "formula": Symbols(system.numbers).get_chemical_formula(mode="hill"),
                "frames": system.n_frames,
                "arrays": list(system.frame_fields),
                "labels": {
                    label: {
                        "unit": info.unit,
                        "shape": list(info.shape),
                        "method": info.method,
                        "program": info.program,
                        "program_version": info.program_version,
                        **system.label_counts(label),
                    }
                    for label, info in system.labels.items()
                },
                "maps": {
                    map_name: {"beads": int(cgmap.n_beads)}
                    for map_name, cgmap in system.maps.items()
                },
            }
    return summary


def _text(summary: dict) -> str:
    lines = [
        f"{summary['path']} ({summary['backend']}, schema {summary['schema_version']}, "
        f"cgkit {summary['cgkit_version']}, created {summary['created']})"
    ]
    for name, system in summary["systems"].items():
        lines.append(
            f"system {name}: {system['formula']} ({system['atoms']} atoms), "
            f"{system['frames']} frames, arrays {', '.join(system['arrays']) or '-'}"
        )
        for label, info in system["labels"].items():
            how = " ".join(
                x for x in (info["method"], info["program"], info["program_version"]) if x
            )
            shape = f" shape {tuple(info['shape'])}" if info["shape"] else ""
            lines.append(
                f"  label {label} [{info['unit']}]{shape}: {info['ok']} ok, "
                f"{info['failed']} failed, {info['pending']} pending" + (f" ({how})" if how else "")
            )
        for map_name, info in system["maps"].items():
            lines.append(f"  map {map_name}: {info['beads']} beads")
    provenance = summary["provenance"]
    if provenance:
        lines.append("provenance:")
        for key, value in provenance.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if len(text) > 200:
                text = text[:200] + f"... ({len(text)} characters)"
            lines.append(f"  {key}: {text}")
    return "\n".join(lines)


def run(args) -> int:
    from cgkit.data import break_lock

    if args.break_lock:
        removed = break_lock(args.path)
        print(f"{args.path}: writer lock {'removed' if removed else 'was not present'}")
        return 0
    try:
        summary = describe(args.path)
    except OSError as exc:
        raise CLIError(str(exc)) from exc
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else _text(summary))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info", help="summarise a store (systems, frames, labels, maps, provenance)"
    )
    parser.add_argument("path", help="store (.h5 or .zarr)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="remove a stale writer lock (only when its writer is known to be gone)",
    )
    parser.set_defaults(func=run)
