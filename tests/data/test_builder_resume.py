"""A build killed with SIGKILL resumes to the same store; executors give the same labels."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cgkit.data
from cgkit.data.builder import DatasetBuilder
from cgkit.qc import XTBLabeler
from cgkit.sampling.recipe import Recipe
from cgkit.sampling.sources import FramesSource

RECIPE = """
name = "bithiophene"
size = 24
seed = 3
[molecule]
smiles = "c1ccsc1-c1cccs1"
[md]
timestep = 0.5
interval = 4
equilibration = 10
replicas = 2
[[labelers]]
kind = "xtb"
method = "GFN2-xTB"
[maps.2bead]
groups = [[0, 1, 2, 3, 4, 10, 11, 12], [5, 6, 7, 8, 9, 13, 14, 15]]
"""


def cgkit_build(recipe, out, *extra) -> list[str]:
    return [sys.executable, "-m", "cgkit", "build", str(recipe), "-o", str(out), *extra]


def read_all(path) -> dict:
    """Every committed array of the store's system, for exact comparison."""
    with cgkit.data.open(path) as store:
        system = store["bithiophene"]
        if system.n_frames == 0:
            return {"positions": np.empty((0, system.n_atoms, 3))}
        out = {"positions": system.read_positions(), "time": system.read_time()}
        for name in system.labels:
            out[name] = system.read_labels(name)
            out[f"{name}.status"] = system.label_status(name)
        out["maps"] = sorted(system.map_names)
        return out


def kill_when(process, pattern: str, timeout: float = 240.0) -> str:
    """SIGKILL ``process``'s whole session once its stderr matches ``pattern``."""
    seen: list[str] = []

    def reader():
        for chunk in iter(lambda: process.stderr.read1(4096), b""):
            seen.append(chunk.decode(errors="replace"))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if re.search(pattern, "".join(seen)):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=60)
    thread.join(timeout=10)
    return "".join(seen)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pattern", "phase"),
    [
        (r"MD replicas:\s+50%", "md"),
        (r"labels GFN2-xTB:\s+\d+%\|[^\r]*\| (?:[5-9]|1\d)/24", "labels"),
    ],
    ids=["during-md", "during-labelling"],
)
def test_sigkill_then_resume_equals_uninterrupted_build(tmp_path, pattern, phase):
    recipe = tmp_path / "bt.toml"
    recipe.write_text(RECIPE)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    killed = tmp_path / "killed.h5"
    process = subprocess.Popen(
        cgkit_build(recipe, killed, "-j", "1", "--chunk-size", "1"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    log = kill_when(process, pattern)
    assert process.returncode == -signal.SIGKILL, log[-2000:]
    # the killed store is readable and holds whole frames only
    partial = read_all(killed)
    assert np.all(np.isfinite(partial["positions"]))
    if phase == "md":  # one of two replicas committed, nothing labelled yet
        assert len(partial["positions"]) == 12
    else:  # killed part-way through labelling: some frames done, the rest pending
        n_ok = int(np.sum(partial["homo.status"] == cgkit.data.OK))
        assert len(partial["positions"]) == 24 and 0 < n_ok < 24
        assert np.all(np.isfinite(partial["homo"][partial["homo.status"] == cgkit.data.OK]))

    run = dict(env=env, capture_output=True, text=True, timeout=600)
    resumed = subprocess.run(cgkit_build(recipe, killed, "-j", "2", "--no-progress"), **run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    fresh = tmp_path / "fresh.h5"
    straight = subprocess.run(cgkit_build(recipe, fresh, "-j", "2", "--no-progress"), **run)
    assert straight.returncode == 0, straight.stderr[-2000:]
    a, b = read_all(killed), read_all(fresh)
    assert a.keys() == b.keys() and len(a["positions"]) == 24
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert np.all(a["homo.status"] == cgkit.data.OK)
    with cgkit.data.open(killed) as store:
        runs = store.provenance["runs"]
    assert [run["finished"] is None for run in runs] == [True, False]  # killed, resumed
    assert runs[1]["workers"] == 2 and runs[1]["versions"]["cgkit"]


def small_frames(n=8):
    recipe = Recipe.from_text(RECIPE)
    atoms = recipe.start_structure()
    rng = np.random.default_rng(0)
    positions = atoms.positions + rng.normal(scale=0.03, size=(n, len(atoms), 3))
    return FramesSource(atoms.numbers, positions, atoms.get_masses())


def labels_of(path, names=("energy", "forces", "homo", "lumo", "dipole")):
    with cgkit.data.open(path) as store:
        return {name: store["bithiophene"].read_labels(name) for name in names}


def test_process_pool_equals_in_process_labels(tmp_path):
    source = small_frames()
    pooled = DatasetBuilder(
        tmp_path / "pool.h5", source, [XTBLabeler()], system="bithiophene", n_workers=2,
        progress=False, chunk_size=3,
    ).build()  # fmt: skip
    assert pooled.labelled == 8 and pooled.failed["homo"] == 0
    labeler = XTBLabeler()
    got = labels_of(tmp_path / "pool.h5")
    from ase import Atoms

    for i, positions in enumerate(source.positions):
        expected = labeler(Atoms(numbers=source.numbers, positions=positions))
        for name, values in got.items():
            np.testing.assert_array_equal(values[i], expected[name], err_msg=f"{name} frame {i}")


@pytest.mark.slow
def test_cli_dask_local_build_equals_process_pool_build(tmp_path):
    pytest.importorskip("dask.distributed")
    recipe = tmp_path / "bt.toml"
    recipe.write_text(RECIPE.replace("size = 24", "size = 8"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = dict(env=env, capture_output=True, text=True, timeout=600)
    for out, extra in [("pool.h5", ["-j", "2"]), ("dask.h5", ["--dask-local", "2"])]:
        done = subprocess.run(cgkit_build(recipe, tmp_path / out, *extra, "--no-progress"), **run)
        assert done.returncode == 0, done.stderr[-2000:]
    a, b = read_all(tmp_path / "pool.h5"), read_all(tmp_path / "dask.h5")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    with cgkit.data.open(tmp_path / "dask.h5") as store:
        provenance = store.provenance
    assert provenance["hosts"] == 1 and provenance["workers"] == 2
    assert "--dask-local 2" in provenance["command"]
