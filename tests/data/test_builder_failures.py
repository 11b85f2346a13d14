"""DatasetBuilder: per-frame failures, retries, bad inputs, refusing a different build."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cgkit.data
from cgkit.data.builder import BuildError, DatasetBuilder
from cgkit.mapping import CGMap
from cgkit.qc import RetryPolicy, SCFConvergenceError
from cgkit.sampling.recipe import Recipe, RecipeError
from cgkit.sampling.sources import FramesSource


class HarmonicLabeler:
    """Cheap deterministic labeler: energy = k * sum |r_i - r_0|^2, homo = -energy.

    Fails with SCF non-convergence on frames whose atom 0 has x > ``scf_above`` (on
    every attempt, or only the first one with ``transient=True``) and crashes with a
    RuntimeError on frames whose atom 0 has x < ``crash_below``.
    """

    program = "harmonic"
    program_version = "1"
    method = "harmonic"
    properties = ("energy", "homo")

    def __init__(self, scf_above=np.inf, crash_below=-np.inf, transient=False):
        self.scf_above, self.crash_below, self.transient = scf_above, crash_below, transient

    def to_dict(self):
        return {"kind": "harmonic", "scf_above": self.scf_above, "crash_below": self.crash_below}

    def __call__(self, atoms, attempt=0):
        x = atoms.positions[0, 0]
        if x > self.scf_above and not (self.transient and attempt > 0):
            raise SCFConvergenceError("SCF not converged in 250 cycles")
        if x < self.crash_below:
            raise RuntimeError("segmentation fault in the integral code")
        energy = float(np.sum((atoms.positions - atoms.positions[0]) ** 2))
        return {"energy": np.asarray(energy), "homo": np.asarray(-energy)}


@pytest.fixture
def frames(ethanol_atoms, rng):
    positions = ethanol_atoms.positions + rng.normal(scale=0.05, size=(20, 9, 3))
    positions[:, 0, 0] = np.linspace(-1.0, 1.0, 20)  # atom 0's x selects the failure
    return FramesSource(ethanol_atoms.numbers, positions, ethanol_atoms.get_masses())


def build(path, source, labeler, **kwargs):
    with ThreadPoolExecutor(2) as executor:
        builder = DatasetBuilder(
            path, source, [labeler], system="ethanol", executor=executor, n_workers=2,
            progress=False, **kwargs,
        )  # fmt: skip
        return builder.build()


def test_scf_failures_and_crashes_are_recorded_per_frame(tmp_path, frames):
    labeler = HarmonicLabeler(scf_above=0.75, crash_below=-0.85)
    summary = build(tmp_path / "f.h5", frames, labeler, retry=RetryPolicy(max_attempts=3))
    x = frames.positions[:, 0, 0]
    scf, crash = np.flatnonzero(x > 0.75), np.flatnonzero(x < -0.85)
    assert len(scf) == 3 and len(crash) == 2
    assert summary.n_frames == 20 and summary.failed == {"energy": 5, "homo": 5}
    with cgkit.data.open(tmp_path / "f.h5") as store:
        system = store["ethanol"]
        reasons = system.failure_reasons("homo")
        assert sorted(reasons) == sorted([*scf, *crash])
        for i in scf:
            assert "SCFConvergenceError" in reasons[i] and "not converged" in reasons[i]
        for i in crash:
            assert reasons[i] == "RuntimeError: segmentation fault in the integral code"
        good = np.setdiff1d(np.arange(20), [*scf, *crash])
        np.testing.assert_array_equal(system.ok_frames("energy", "homo"), good)
        expected = [labeler(a)["energy"] for a in (system.to_atoms(int(i)) for i in good)]
        np.testing.assert_allclose(system.read_labels("energy", good), expected)
        assert np.all(np.isnan(system.read_labels("energy", scf)))


def test_transient_scf_failure_is_retried(tmp_path, frames):
    labeler = HarmonicLabeler(scf_above=0.0, transient=True)
    summary = build(tmp_path / "t.h5", frames, labeler, retry=RetryPolicy(max_attempts=2))
    assert summary.failed == {"energy": 0, "homo": 0}
    summary = build(tmp_path / "n.h5", frames, labeler, retry=RetryPolicy(max_attempts=1))
    assert summary.failed["energy"] == int(np.sum(frames.positions[:, 0, 0] > 0))


def test_resume_is_a_no_op_and_other_inputs_are_refused(tmp_path, frames):
    path = tmp_path / "r.h5"
    build(path, frames, HarmonicLabeler())
    again = build(path, frames, HarmonicLabeler())
    assert again.frames_added == 0 and again.labelled == 0
    with pytest.raises(BuildError, match="different inputs"):
        build(path, frames, HarmonicLabeler(scf_above=0.5))
    forced = build(path, frames, HarmonicLabeler(scf_above=0.5), force=True)
    assert forced.frames_added == 20 and forced.failed["energy"] == 5
    with cgkit.data.open(path) as store:
        provenance = store.provenance
    assert {"cgkit", "tblite", "pyscf", "ase"} <= set(provenance["versions"])
    assert provenance["labelers"] == [HarmonicLabeler(scf_above=0.5).to_dict()]
    assert provenance["retry"] == {"max_attempts": 2, "retry_on": ["SCFConvergenceError"]}
    assert [run["labelled"] for run in provenance["runs"]] == [20]
    assert provenance["runs"][0]["hosts"] is None  # an executor passed in: hosts unknown


def test_unreadable_existing_store_needs_force(tmp_path, frames):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)  # a truncated HDF5 header
    with pytest.raises(BuildError, match="force"):
        build(path, frames, HarmonicLabeler())
    assert build(path, frames, HarmonicLabeler(), force=True).frames_added == 20


class ExitingLabeler(HarmonicLabeler):
    """Kills its worker process (like a segfault in QC code) on frames with x > 0.9."""

    def __call__(self, atoms, attempt=0):
        if atoms.positions[0, 0] > 0.9:
            os._exit(11)
        return super().__call__(atoms, attempt)


def test_frame_that_kills_its_worker_process_is_a_failure(tmp_path, frames):
    builder = DatasetBuilder(
        tmp_path / "k.h5", frames, [ExitingLabeler()], system="ethanol", n_workers=2,
        progress=False, chunk_size=4,
    )  # fmt: skip
    summary = builder.build()
    assert summary.failed == {"energy": 1, "homo": 1} and summary.counts["homo"]["ok"] == 19
    with cgkit.data.open(tmp_path / "k.h5") as store:
        reasons = store["ethanol"].failure_reasons("energy")
    assert list(reasons) == [19] and "worker process died" in reasons[19]


def test_maps_that_do_not_match_the_atoms_are_refused(tmp_path, frames):
    wrong = CGMap.from_groups([[0, 1], [2, 3, 4, 5, 6, 7, 8, 9]], weights="center")
    with pytest.raises(ValueError, match="map 'm10' is for 10 atoms .* have 9 atoms"):
        build(tmp_path / "m.h5", frames, HarmonicLabeler(), maps={"m10": wrong})
    assert not (tmp_path / "m.h5").exists()


def test_labelers_with_clashing_label_names_need_prefixes(tmp_path, frames):
    with pytest.raises(ValueError, match="prefixes"):
        DatasetBuilder(tmp_path / "c.h5", frames, [HarmonicLabeler(), HarmonicLabeler()])
    summary = build(tmp_path / "c.h5", frames, HarmonicLabeler(), prefixes=["cheap_"])
    assert set(summary.counts) == {"cheap_energy", "cheap_homo"}


RECIPE = """
name = "bt"
size = 4
[molecule]
smiles = "{smiles}"
[md]
interval = 2
[[labelers]]
kind = "xtb"
[maps.two]
groups = {groups}
"""


def test_recipe_errors_name_what_is_wrong(tmp_path):
    good = RECIPE.format(smiles="c1ccsc1-c1cccs1", groups="[[0, 1, 2], [3, 4]]")
    recipe = Recipe.from_text(good)
    assert recipe.md.interval == 2 and recipe.multiplicity == 1
    bad_smiles = Recipe.from_text(RECIPE.format(smiles="c1ccsc1-C(", groups="[[0], [1]]"))
    with pytest.raises(ValueError, match=r"could not parse SMILES 'c1ccsc1-C\('"):
        bad_smiles.start_structure()
    out_of_range = Recipe.from_text(RECIPE.format(smiles="c1ccsc1-c1cccs1", groups="[[0], [16]]"))
    with pytest.raises(RecipeError, match="map 'two': bead 1 lists atom 16"):
        out_of_range.make_maps(out_of_range.start_structure())
    with pytest.raises(RecipeError, match=r"\[md\]: unknown key\(s\) \['steps'\]"):
        Recipe.from_text(good.replace("interval = 2", "steps = 2"))
    with pytest.raises(RecipeError, match="exactly one frame source"):
        Recipe.from_text(good.replace("[md]\ninterval = 2\n", ""))
    with pytest.raises(RecipeError, match="kind must be 'xtb' or 'pyscf'"):
        Recipe.from_text(good.replace('kind = "xtb"', 'kind = "orca"'))


def test_cli_reports_bad_smiles_and_trajectory_mismatch(tmp_path, capsys, water_atoms):
    from cgkit.cli import main

    recipe = tmp_path / "bad.toml"
    recipe.write_text(RECIPE.format(smiles="C1CC", groups="[[0], [1]]"))
    assert main(["build", str(recipe), "-o", str(tmp_path / "x.h5"), "--no-progress"]) == 2
    assert "could not parse SMILES 'C1CC'" in capsys.readouterr().err
    water_atoms.write(tmp_path / "water.xyz")
    text = RECIPE.format(smiles="c1ccsc1-c1cccs1", groups="[[0], [1]]")
    recipe.write_text(text.replace("[md]\ninterval = 2", '[trajectory]\npath = "water.xyz"'))
    assert main(["build", str(recipe), "-o", str(tmp_path / "y.h5"), "--no-progress"]) == 2
    assert "do not match the [molecule] structure" in capsys.readouterr().err
