"""``cgkit build RECIPE -o OUT``: sample, label and map a dataset from a recipe (resumable)."""

from __future__ import annotations

import argparse
import shlex
import sys


def register(subparsers) -> None:
    """Add the ``build`` subcommand."""
    parser = subparsers.add_parser(
        "build",
        help="build a labelled dataset store from a recipe (datasets/*.toml); resumable",
        description=(
            "Sample frames (MD or a trajectory), label them with quantum chemistry and store "
            "them with their CG maps. Re-running the same command on a partial store "
            "(e.g. after a crash) finishes it."
        ),
    )
    parser.add_argument("recipe", help="recipe TOML file")
    parser.add_argument("-o", "--output", required=True, help="output store (.h5 or .zarr)")
    parser.add_argument(
        "-j", "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads per worker")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dask-scheduler", metavar="ADDR", help="run on a dask.distributed cluster")
    group.add_argument("--dask-local", metavar="N", type=int, help="run on a local dask cluster")
    parser.add_argument("--force", action="store_true", help="rebuild a store made otherwise")
    parser.add_argument("--chunk-size", type=int, default=None, help="frames per task")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def _dask_executor(args):
    from cgkit._optional import require

    distributed = require("dask.distributed")
    if args.dask_scheduler:
        client = distributed.Client(args.dask_scheduler)
    else:
        cluster = distributed.LocalCluster(
            n_workers=args.dask_local, threads_per_worker=1, processes=True
        )
        client = distributed.Client(cluster)
    workers = client.scheduler_info()["workers"].values()
    hosts = len({w.get("host", w.get("id")) for w in workers})
    return client, client.get_executor(), len(workers), hosts


def run(args: argparse.Namespace) -> int:
    """Run the build; returns 0 (2 on user errors via CLIError)."""
    import os

    from cgkit.cli import CLIError
    from cgkit.data.builder import BuildError, DatasetBuilder
    from cgkit.sampling.recipe import Recipe

    recipe = Recipe.read(args.recipe)
    client = executor = None
    n_workers = args.workers or os.cpu_count() or 1
    hosts = 1
    if args.dask_scheduler or args.dask_local:
        client, executor, n_workers, hosts = _dask_executor(args)
    try:
        builder = DatasetBuilder.from_recipe(
            recipe,
            args.output,
            executor=executor,
            n_workers=n_workers,
            threads=args.threads,
            force=args.force,
            progress=not args.no_progress,
            chunk_size=args.chunk_size,
            provenance={
                "command": shlex.join(["cgkit", *sys.argv[1:]]),
                "hosts": hosts,
                "workers": n_workers,
            },
        )
        summary = builder.build()
    except BuildError as exc:
        raise CLIError(str(exc)) from exc
    finally:
        if client is not None:
            client.close()
    print(summary)
    return 0
