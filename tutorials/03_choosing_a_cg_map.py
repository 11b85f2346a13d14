# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 03 - Choosing a CG map
#
# Which beads keep the information an electronic property needs? Two complementary tools:
#
# 1. **ECG map scan** (`cgkit.ecg.scan.scan_maps`): train one ECG model per candidate map
#    and compare held-out error and predicted noise. The noise a map leaves grows as the
#    resolution drops (Maier & Jackson 2022).
# 2. **CGMP ranking** (`cgkit.cgmp.CGMPRanker`; Maier, Wang & Jackson 2024): one network
#    with a learnable gate per atom, trained while the number of open gates is lowered from
#    N to 2. The order in which atoms are dropped ranks them; `to_cgmap(M)` turns the M
#    most important atoms into a decimation map.
#
# `CGKIT_SMOKE=1`: 80 frames, short trainings. Outputs in `$CGKIT_TUTORIAL_OUT` (default: a
# temporary folder).

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

import cgkit.data
from cgkit.cgmp import CGMPRanker
from cgkit.data.builder import DatasetBuilder
from cgkit.ecg import ECGRegressor
from cgkit.ecg.scan import format_table, load_store_maps, scan_maps
from cgkit.sampling import Recipe

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial03_"))
OUT.mkdir(parents=True, exist_ok=True)
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent

recipe = Recipe.read(REPO / "datasets" / "bithiophene.toml")
size, equilibration = (80, 100) if SMOKE else (1000, recipe.md.equilibration)
recipe = recipe.resized(size, equilibration)
store_path = OUT / "bithiophene.h5"
print(
    DatasetBuilder.from_recipe(recipe, store_path, n_workers=2, progress=False, force=True).build()
)

# %% [markdown]
# ## ECG scan over the recipe's maps
#
# The recipe stores 2-, 4-, 6- and 8-bead maps. Train on the first MD replica, test on the
# second (consecutive MD frames are correlated, so a random split would flatter the model).

# %%
with cgkit.data.open(store_path) as store:
    bead_positions, homo = load_store_maps(store, "homo")
    numbers = store[recipe.name].numbers
n_frames = len(homo)
train, test = np.arange(n_frames // 2), np.arange(n_frames // 2, n_frames)
ecg_settings = (
    {"n_epochs": 100, "n_inducing": 32, "batch_size": 40}
    if SMOKE
    else {"n_epochs": 300, "n_inducing": 200, "batch_size": 128}
)
rows = scan_maps(
    bead_positions, homo, train, test, lambda: ECGRegressor(**ecg_settings, seed=0), log=print
)
by_name = {row.map_name: row for row in rows}
assert [row.n_beads for row in rows] == [2, 4, 6, 8]
assert all(np.isfinite(row.rmse) and row.mean_std > 0 for row in rows)
print(f"predicted noise 2 beads {by_name['2bead'].mean_std:.4f} eV, "
      f"8 beads {by_name['8bead'].mean_std:.4f} eV")  # fmt: skip
# the error bars are meant to be honest: most held-out errors fall within 2 std
assert all(row.coverage_95 > 0.5 for row in rows)

# %% [markdown]
# With the smoke run's 40 training frames from one short MD replica the maps hardly differ;
# with the full data the error and the predicted noise fall as beads are added, the
# trend of the paper's noise-vs-resolution table.

# %% [markdown]
# ## CGMP: rank the heavy atoms
#
# Hydrogens are ignored; the 10 heavy atoms (8 C, 2 S) are ranked. Each resolution's
# network is kept, so the held-out R^2 with only the M kept atoms traces how much of the
# property survives.

# %%
ranker_settings = (
    {"hidden": 16, "layers": 2, "warmup": 6, "epochs_per_step": 2, "batch_size": 20}
    if SMOKE
    else {"hidden": 32, "layers": 3, "warmup": 20, "epochs_per_step": 5}
)
with cgkit.data.open(store_path) as store:
    system = store[recipe.name]
    frames = system.ok_frames("homo")
    positions = system.read_positions(frames)
    masses = system.masses
ranker = CGMPRanker(**ranker_settings, seed=0).fit(
    {"numbers": numbers, "positions": positions, "y": homo, "masses": masses},
    train_index=train,
    test_index=test,
)
symbols = [f"{'HCS'[[1, 6, 16].index(z)]}{i}" for i, z in enumerate(numbers)]
print("removal order (first removed first):", [symbols[i] for i in ranker.ranking_])
for resolution, r2 in sorted(ranker.resolution_curve_.items(), reverse=True):
    print(f"  M = {resolution:2d}: kept {[symbols[i] for i in ranker.kept_(resolution)]}, "
          f"held-out R^2 {r2:.3f}")  # fmt: skip
heavy = np.flatnonzero(numbers > 1)
assert sorted(ranker.ranking_) == sorted(heavy)
assert sorted(ranker.resolution_curve_) == list(range(2, len(heavy) + 1))

# %% [markdown]
# ## From ranking to map
#
# `to_cgmap(M)` keeps the M top-ranked atoms as beads (a decimation map). Its bead
# positions are atom positions, so it plugs into everything that takes a `CGMap`: an ECG
# model, a store, `cgkit ibi`.

# %%
M = 4
ranked_map = ranker.to_cgmap(M)
print(ranked_map)
assert ranked_map.n_beads == M and ranked_map.n_atoms == len(numbers)
kept = ranker.kept_(M)
np.testing.assert_allclose(ranked_map.map_positions(positions), positions[:, kept], atol=1e-12)
ranked_map.write(OUT / "cgmp_4bead.json")

rows += scan_maps(
    {"cgmp4": ranked_map.map_positions(positions)},
    homo,
    train,
    test,
    lambda: ECGRegressor(**ecg_settings, seed=0),
    log=lambda line: None,
)
print(format_table(rows))
print("tutorial 03 done")
