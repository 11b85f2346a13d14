# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 01 - Build and share a dataset
#
# A *recipe* (`datasets/*.toml`) says everything that determines a dataset: the molecule,
# how frames are sampled (GFN2-xTB MD at 300 K), which quantum-chemistry labels are
# computed and which CG maps are stored with them. `cgkit build` turns it into a store:
#
# ```sh
# cgkit build datasets/bithiophene.toml -o bithiophene.h5 -j 2
# cgkit info bithiophene.h5
# ```
#
# Here we do the same from Python (the code behind `cgkit build`), look at the store with
# `cgkit info`, convert it between HDF5 and Zarr and open it in ASE.
#
# Environment: `CGKIT_SMOKE=1` runs a small version (about 40 frames) in well under a minute;
# outputs go to `$CGKIT_TUTORIAL_OUT` (default: a fresh temporary folder).

# %%
import contextlib
import io
import os
import re
import tempfile
import time
from pathlib import Path

import ase.io
import numpy as np
import torch

import cgkit.data
from cgkit.cli import main as cgkit_cli
from cgkit.data.builder import DatasetBuilder
from cgkit.sampling import Recipe

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial01_"))
OUT.mkdir(parents=True, exist_ok=True)
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
print(f"smoke mode: {SMOKE}; outputs in {OUT}")

# %% [markdown]
# ## The recipe
#
# `Recipe.read` parses and checks the TOML into typed dataclasses. A recipe is immutable;
# `Recipe.resized` makes a smaller variant (here for the quick smoke run) without editing
# the file.

# %%
recipe = Recipe.read(REPO / "datasets" / "bithiophene.toml")
print(recipe.description)
print(f"molecule {recipe.molecule.smiles}, {recipe.size} frames, seed {recipe.seed}")
print(f"MD: {recipe.md}")
print(f"labelers: {[spec.config for spec in recipe.labelers]}")
print(f"maps: {[m.name for m in recipe.maps]}")
if SMOKE:
    recipe = recipe.resized(40, equilibration=100)
print(f"building {recipe.size} frames in {recipe.md.replicas} MD replicas")

# %% [markdown]
# ## Build
#
# MD replicas run in parallel worker processes, then every frame is labelled with
# GFN2-xTB (energy, forces, HOMO, LUMO, gap, dipole). Everything is committed as it
# completes, so a killed build resumes where it stopped when run again.

# %%
store_path = OUT / "bithiophene.h5"
tic = time.perf_counter()
summary = DatasetBuilder.from_recipe(
    recipe, store_path, n_workers=2, progress=False, force=True
).build()
print(summary)
print(f"build: {time.perf_counter() - tic:.1f} s")
assert summary.n_frames == recipe.size
assert all(counts["ok"] == recipe.size for counts in summary.counts.values())

# %% [markdown]
# Running the same build again - here with the command line, `cgkit build` - finds the
# store complete: no new frames, no new labels. This is what makes a build safe to restart
# after a crash. (The smoke run writes its smaller recipe to a file for the command line.)

# %%
recipe_file = REPO / "datasets" / "bithiophene.toml"
if SMOKE:
    recipe_file = OUT / "bithiophene-smoke.toml"
    text = re.sub(r"(?m)^size = \d+", f"size = {recipe.size}", recipe.text)
    text = re.sub(r"(?m)^equilibration = \d+", f"equilibration = {recipe.md.equilibration}", text)
    recipe_file.write_text(text)
assert Recipe.read(recipe_file).to_dict() == recipe.to_dict()
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    exit_code = cgkit_cli(
        ["build", str(recipe_file), "-o", str(store_path), "-j", "1", "--no-progress"]
    )
print(buffer.getvalue())
assert exit_code == 0
assert f"{recipe.size} frames (0 new), 0 labelled this run" in buffer.getvalue()

# %% [markdown]
# ## `cgkit info`
#
# The store records units, per-frame label status, the maps and the provenance (the recipe
# text, versions of cgkit and the QC code, each run).

# %%
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    assert cgkit_cli(["info", str(store_path)]) == 0
info_text = buffer.getvalue()
print(info_text[:2000])
assert "label homo [eV]" in info_text and "map 8bead: 8 beads" in info_text

# %% [markdown]
# ## Reading it back
#
# Batched reads by frame index; the CG view maps frames to bead positions on the fly.

# %%
with cgkit.data.open(store_path) as store:
    system = store[recipe.name]
    positions = system.read_positions(np.arange(system.n_frames))
    homo = system.read_labels("homo", np.arange(system.n_frames))
    forces = system.read_labels("forces", [0])[0]
    bead_positions = system.cg("8bead").bead_positions(np.arange(system.n_frames))
    cgmap = system.maps["8bead"]
    label_unit = system.labels["homo"].unit
print(f"positions {positions.shape} Å, HOMO {homo.mean():.3f} +- {homo.std():.3f} {label_unit}")
print(f"8-bead positions {bead_positions.shape} Å")
assert label_unit == "eV"
assert np.all(np.isfinite(homo)) and homo.std() > 0  # MD at 300 K moves the HOMO
np.testing.assert_allclose(bead_positions, cgmap.map_positions(positions), atol=1e-10)
# GFN2-xTB forces of an isolated molecule sum to zero (no external field)
np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-3)

# %% [markdown]
# ## Share it: HDF5 <-> Zarr
#
# One schema, two backends: a single `.h5` file to send around, or a Zarr v3 directory for
# object stores and parallel readers. Conversion is lossless.

# %%
zarr_path = cgkit.data.convert(store_path, OUT / "bithiophene.zarr", overwrite=True)
back_path = cgkit.data.convert(zarr_path, OUT / "roundtrip.h5", overwrite=True)
with cgkit.data.open(zarr_path) as zstore, cgkit.data.open(back_path) as hstore:
    print(zstore)
    for other in (zstore, hstore):
        system = other[recipe.name]
        np.testing.assert_array_equal(system.read_positions(np.arange(system.n_frames)), positions)
        np.testing.assert_array_equal(system.read_labels("homo", np.arange(system.n_frames)), homo)
        assert system.maps["8bead"] == cgmap
    assert zstore.provenance["recipe"] == recipe.text

# %% [markdown]
# ## Open it in ASE
#
# cgkit registers an ASE io format: every frame becomes an `ase.Atoms` with its labels in
# `atoms.info` and forces (a per-atom label) in `atoms.arrays`. (Zarr directories need
# `format="cgkit-zarr"`, since ASE takes directories for bundle trajectories.)

# %%
images = ase.io.read(store_path, index=":")
zarr_images = ase.io.read(zarr_path, index=":", format="cgkit-zarr")
print(images[0], images[0].info["homo"])
assert len(images) == len(zarr_images) == recipe.size
np.testing.assert_array_equal(images[-1].positions, positions[-1])
assert images[3].info["homo"] == homo[3]
assert images[0].get_chemical_formula() == "C8H6S2"
print("tutorial 01 done")
