"""Builder with the OpenMM peptide frame source: positions-only stores that resume."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

import cgkit.data
from cgkit.data.builder import BuildError, DatasetBuilder
from cgkit.sampling.recipe import Recipe

pytest.importorskip("openmm")
pytest.importorskip("rdkit")

RECIPE = """
name = "adp"
size = 6
seed = 5
[molecule]
sequence = "ACE-ALA-NME"
[openmm]
timestep = 1.0
interval = 10
equilibration = 20
replicas = 2
[maps.backbone]
atoms = [0, 6, 7, 8, 16]
"""


class FailingSecondReplica(ThreadPoolExecutor):
    """Runs the first submitted replica and fails the second (a build that dies midway)."""

    def __init__(self):
        super().__init__(max_workers=1)
        self.calls = 0

    def submit(self, fn, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            self.first = super().submit(fn, *args, **kwargs)
            return self.first
        if self.calls == 2:
            self.first.result()
            future = Future()
            future.set_exception(RuntimeError("worker lost"))
            return future
        return super().submit(fn, *args, **kwargs)


def read(path):
    with cgkit.data.open(path) as store:
        system = store["adp"]
        return system.read_positions(), system.read_time(), system.map_names, system.labels


def test_openmm_recipe_builds_and_resumes(tmp_path):
    recipe = Recipe.from_text(RECIPE, source="adp.toml")
    whole = tmp_path / "whole.h5"
    summary = DatasetBuilder.from_recipe(
        recipe, whole, executor=ThreadPoolExecutor(1), progress=False
    ).build()
    assert summary.n_frames == 6 and summary.frames_added == 6 and summary.labelled == 0
    positions, times, maps, labels = read(whole)
    assert positions.shape == (6, 22, 3) and list(maps) == ["backbone"] and not labels
    # two replicas of 3 frames, 10 fs apart after their equilibration; the molecule
    # stays intact (every C-H bond of the amber14 MD near 1.09 Å)
    np.testing.assert_allclose(times, [10.0, 20.0, 30.0, 10.0, 20.0, 30.0])
    structure = recipe.peptide()
    ch = [
        (i, j)
        for i, j in structure.bonds
        if {structure.symbols[i], structure.symbols[j]} == {"C", "H"}
    ]
    lengths = np.linalg.norm(
        positions[:, [i for i, _ in ch]] - positions[:, [j for _, j in ch]], axis=-1
    )
    assert np.all(np.abs(lengths - 1.09) < 0.05)
    assert not np.allclose(positions[0], positions[3])  # replicas differ (seeds 5, 6)

    # a build that loses its second replica keeps the first; re-running finishes it
    partial = tmp_path / "partial.h5"
    with pytest.raises(BuildError, match="replica of frames 3.. failed .*worker lost"):
        DatasetBuilder.from_recipe(
            recipe, partial, executor=FailingSecondReplica(), progress=False
        ).build()
    assert read(partial)[0].shape == (3, 22, 3)
    resumed = DatasetBuilder.from_recipe(
        recipe, partial, executor=ThreadPoolExecutor(1), progress=False
    ).build()
    assert resumed.frames_added == 3
    np.testing.assert_array_equal(read(partial)[0], positions)  # deterministic replicas
    again = DatasetBuilder.from_recipe(
        recipe, partial, executor=ThreadPoolExecutor(1), progress=False
    ).build()
    assert again.frames_added == 0
