# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 06 - Scaling out with dask
#
# `DatasetBuilder` sends its work (MD replicas, chunks of frames to label) to any
# `concurrent.futures.Executor`. The default is a local process pool; a
# `dask.distributed` client's executor spreads the same work over a cluster, from a
# laptop's `LocalCluster` to many hosts (`cgkit build RECIPE -o OUT --dask-scheduler ADDR`).
#
# Here we build the same recipe twice, with the process pool and through a dask
# `LocalCluster`, and check that the stores are equal: MD replicas are seeded, labels are
# deterministic, and results are written in frame order whatever order they complete in.
#
# dask starts its worker processes with `spawn`, which imports this script again in
# each worker; the cells that do work are therefore under `if __name__ == "__main__":`
# (true in a notebook too), the usual idiom for multiprocessing scripts.
#
# `CGKIT_SMOKE=1` builds 24 frames; outputs go to `$CGKIT_TUTORIAL_OUT` (default: a
# temporary folder).

# %%
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from dask.distributed import Client, LocalCluster

import cgkit.data
from cgkit.data.builder import DatasetBuilder
from cgkit.sampling import Recipe

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
N_WORKERS = 2

recipe = Recipe.read(REPO / "datasets" / "bithiophene.toml")
size, equilibration = (24, 50) if SMOKE else (400, recipe.md.equilibration)
recipe = recipe.resized(size, equilibration)


# %% [markdown]
# ## The reference: a local process pool


# %%
def read_store(path):
    """Positions, homo, forces and label status of the store's only system."""
    with cgkit.data.open(path) as store:
        system = store[store.system_names[0]]
        frames = np.arange(system.n_frames)
        return {
            "positions": system.read_positions(frames),
            "homo": system.read_labels("homo", frames),
            "forces": system.read_labels("forces", frames),
            "status": system.label_status("homo"),
            "runs": store.provenance["runs"],
        }


if __name__ == "__main__":
    OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial06_"))
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"{recipe.size} frames, {recipe.md.replicas} replicas; outputs in {OUT}")
    tic = time.perf_counter()
    pool_summary = DatasetBuilder.from_recipe(
        recipe, OUT / "pool.h5", n_workers=N_WORKERS, progress=False, force=True
    ).build()
    pool_seconds = time.perf_counter() - tic
    print(pool_summary)


# %% [markdown]
# ## The same build on a dask cluster
#
# `client.get_executor()` is a `concurrent.futures.Executor`; the builder neither starts
# nor stops it. On a real cluster, `Client("tcp://scheduler:8786")` replaces the
# `LocalCluster`.

# %%
if __name__ == "__main__":
    tic = time.perf_counter()
    with (
        LocalCluster(
            n_workers=N_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(client)
        dask_summary = DatasetBuilder.from_recipe(
            recipe,
            OUT / "dask.zarr",
            executor=client.get_executor(),
            n_workers=N_WORKERS,
            progress=False,
            force=True,
            provenance={"hosts": 1},
        ).build()
    dask_seconds = time.perf_counter() - tic
    print(dask_summary)
    print(f"process pool {pool_seconds:.1f} s, dask (including cluster start) {dask_seconds:.1f} s")

# %% [markdown]
# ## Equal results
#
# Same frames, same labels, bit for bit; only the provenance tells the runs apart.

# %%
if __name__ == "__main__":
    pool, dask_result = read_store(OUT / "pool.h5"), read_store(OUT / "dask.zarr")
    for key in ("positions", "homo", "forces", "status"):
        np.testing.assert_array_equal(pool[key], dask_result[key], err_msg=key)
    assert pool["runs"][-1]["executor"] == "ProcessPoolExecutor"
    assert pool["runs"][-1]["executor"] != dask_result["runs"][-1]["executor"]
    print(f"executors: {pool['runs'][-1]['executor']} vs {dask_result['runs'][-1]['executor']}")
    assert dask_summary.n_frames == pool_summary.n_frames == recipe.size
    assert all(counts["ok"] == recipe.size for counts in dask_summary.counts.values())
    print("tutorial 06 done")
