"""``cgkit backmap train|apply --method temporal-vae`` (temporally coherent VAE backmapping)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run_train(args: argparse.Namespace) -> int:
    """Train a :class:`~cgkit.backmap.TemporalVAEBackmapper` on an all-atom trajectory store."""
    import cgkit.data
    from cgkit.backmap.temporal import TemporalVAEBackmapper, TemporalVAEConfig
    from cgkit.cli import CLIError
    from cgkit.mapping import CGMap

    if not args.store:
        raise CLIError("--method temporal-vae needs --store (an all-atom trajectory store)")
    with cgkit.data.open(args.store) as store:
        name = args.system or store.system_names[0]
        maps = store[name].maps
        cgmap = maps[args.map] if args.map in maps else CGMap.read(args.map)
        config = TemporalVAEConfig(n_steps=args.steps, batch_size=args.batch_size,
                                   channels=args.width, seed=args.seed)  # fmt: skip
        model = TemporalVAEBackmapper(config).fit(store, cgmap, lag=args.lag, system=name)
    model.save(args.output)
    print(f"trained a temporal VAE on {args.store}:{name}; wrote {args.output}")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    """Backmap consecutive CG frames autoregressively into one multi-frame file."""
    from ase.io import read, write

    from cgkit.backmap.temporal import TemporalVAEBackmapper

    model = TemporalVAEBackmapper.load(args.model)
    cg_frames = [atoms for path in args.cg for atoms in read(path, index=":")]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    suffix = {"extxyz": "xyz", "gromacs": "gro"}.get(args.format, args.format)
    target = out / f"backmapped.{suffix}"
    write(target, model.transform(cg_frames, seed=args.seed), format=args.format)
    print(f"wrote {len(cg_frames)} all-atom frames to {target}")
    return 0
