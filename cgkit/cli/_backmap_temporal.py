"""``cgkit backmap train|apply --method temporal-vae`` (temporally coherent VAE backmapping)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run_train(args: argparse.Namespace) -> int:
    """Train a :class:`~cgkit.backmap.TemporalVAEBackmapper` on an all-atom trajectory store."""
    import cgkit.data
    from cgkit.backmap.temporal import TemporalVAEBackmapper, TemporalVAEConfig
    from cgkit.backmap.temporal.openmm_energy import peptide_force_field
    from cgkit.cli import CLIError
    from cgkit.mapping import CGMap
    from cgkit.sampling.openmm_md import capped_peptide

    if not args.store:
        raise CLIError("--method temporal-vae needs --store (an all-atom trajectory store)")
    with cgkit.data.open(args.store) as store:
        name = args.system or store.system_names[0]
        maps = store[name].maps
        cgmap = maps[args.map] if args.map in maps else CGMap.read(args.map)
        sequence = args.sequence or store_sequence(store.provenance)
        energy, constraints = (
            peptide_force_field(capped_peptide(sequence).topology) if sequence else (None, None)
        )
        config = TemporalVAEConfig(n_steps=args.steps, batch_size=args.batch_size,
                                   channels=args.width, seed=args.seed)  # fmt: skip
        model = TemporalVAEBackmapper(config, energy=energy).fit(
            store, cgmap, lag=args.lag, system=name, constraints=constraints
        )
    model.save(args.output)
    terms = f"amber14 energy term and H-bond constraints of ACE-{sequence}-NME" if sequence else (
        "no energy term (give --sequence for a capped peptide)")  # fmt: skip
    print(f"trained a temporal VAE on {args.store}:{name} ({terms}); wrote {args.output}")
    return 0


def store_sequence(provenance: dict) -> str | None:
    """One-letter peptide sequence of a store made by ``simulate_peptide`` or from a
    ``[molecule] sequence`` recipe; None when the provenance names none."""
    from cgkit.sampling.recipe import Recipe

    if provenance.get("sequence"):
        return str(provenance["sequence"])
    if provenance.get("recipe"):
        return Recipe.from_text(provenance["recipe"]).peptide_sequence
    return None


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
