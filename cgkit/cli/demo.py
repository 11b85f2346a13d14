"""``cgkit demo``: the whole ECG pipeline on an embedded default, with a report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="build a bithiophene data set with GFN2-xTB, train ECG models per map, report",
        description=(
            "Runs the real pipeline on an embedded default (no input, no network): GFN2-xTB MD "
            "and HOMO labels through the resumable builder, one ECG model per CG map, and a "
            "markdown report with figures. Re-running reuses finished steps."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("cgkit-demo"), help="output directory")
    parser.add_argument("--quick", action="store_true", help="small run (~2 min on 2 cores)")
    parser.add_argument("--frames", type=int, default=None, help="override the number of frames")
    parser.add_argument("--recipe", type=Path, default=None, help="another bithiophene recipe")
    parser.add_argument("--workers", type=int, default=2, help="labelling processes")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cgkit.demo import DemoConfig, run_demo

    config = DemoConfig.quick(args.out) if args.quick else DemoConfig(out=args.out)
    config = replace(config, workers=args.workers)
    if args.frames is not None:
        config = replace(config, n_frames=args.frames)
    if args.recipe is not None:
        config = replace(config, recipe=args.recipe)
    run_demo(config)
    return 0
