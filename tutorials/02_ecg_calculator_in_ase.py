# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 02 - An ECG calculator in ASE
#
# Electronic coarse-graining (ECG; Maier & Jackson, J. Chem. Phys. 157, 174102, 2022)
# predicts an electronic property - here the HOMO energy - from the *bead* positions of a
# CG model. The atoms a map removes leave the property uncertain, so the model is a deep
# kernel Gaussian process that predicts a mean **and** a configuration-dependent standard
# deviation.
#
# We build a small GFN2-xTB dataset of 2,2'-bithiophene (tutorial 01), train an
# `ECGRegressor` on the 8-bead map, save and reload it, attach an `ECGCalculator` to CG
# `ase.Atoms` along the MD trajectory and compute the HOMO density of states.
#
# `CGKIT_SMOKE=1`: 80 frames and a short training (under a minute). Outputs go to
# `$CGKIT_TUTORIAL_OUT` (default: a temporary folder).

# %%
import os
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase.build import rotate

import cgkit.data
from cgkit.calculators import ECGCalculator
from cgkit.data.builder import DatasetBuilder
from cgkit.ecg import ECGRegressor, density_of_states
from cgkit.sampling import Recipe

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial02_"))
OUT.mkdir(parents=True, exist_ok=True)
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
MAP = "8bead"

# %% [markdown]
# ## Data
#
# Two MD replicas; the first replica trains the model, the second is the "trajectory" we
# run the calculator along (frames the model has never seen).

# %%
recipe = Recipe.read(REPO / "datasets" / "bithiophene.toml")
size, equilibration = (80, 100) if SMOKE else (1000, recipe.md.equilibration)
recipe = recipe.resized(size, equilibration)
store_path = OUT / "bithiophene.h5"
summary = DatasetBuilder.from_recipe(
    recipe, store_path, n_workers=2, progress=False, force=True
).build()
print(summary)

with cgkit.data.open(store_path) as store:
    system = store[recipe.name]
    frames = system.ok_frames("homo")
    view = system.cg(MAP)
    bead_positions = view.bead_positions(frames)
    homo = system.read_labels("homo", frames)
    cgmap = system.maps[MAP]
    last_aa_atoms = system.to_atoms(int(frames[-1]))
    trajectory_atoms = [view.to_atoms(int(i)) for i in frames[len(frames) // 2 :]]
n_train = len(frames) // 2
print(f"{len(frames)} frames, {cgmap.n_beads} beads; train on {n_train}")

# %% [markdown]
# ## Train, save, load
#
# `ECGRegressor` follows scikit-learn: hyperparameters in the constructor, `fit` returns
# the estimator. Models are saved as a state dict with a JSON config (no pickles).

# %%
settings = (
    {"n_epochs": 150, "n_inducing": 32, "batch_size": 40}
    if SMOKE
    else {"n_epochs": 300, "n_inducing": 200, "batch_size": 128}
)
tic = time.perf_counter()
model = ECGRegressor(**settings, seed=0).fit(bead_positions[:n_train], homo[:n_train])
print(f"trained in {time.perf_counter() - tic:.1f} s; final loss {model.history_[-1]:.3f}")
model.save(OUT / "ecg-homo-8bead.pt")
model = ECGRegressor.load(OUT / "ecg-homo-8bead.pt")

# %% [markdown]
# ## The calculator
#
# `ECGCalculator` adapts the model to ASE: CG Atoms in, `homo` and `homo_std` (eV) out.
# Given the map, it takes all-atom Atoms too and maps them first.

# %%
calc = ECGCalculator(model, property="homo")
beads = trajectory_atoms[0].copy()
beads.calc = calc
print(f"bead Atoms {beads.get_chemical_formula()}: HOMO {calc.get_property('homo', beads):.3f}"
      f" +- {calc.get_property('homo_std', beads):.3f} eV")  # fmt: skip

# all-atom input through the map gives the same prediction for the same configuration
aa_calc = ECGCalculator(model, property="homo", cgmap=cgmap)
np.testing.assert_allclose(
    aa_calc.get_property("homo", last_aa_atoms),
    calc.get_property("homo", trajectory_atoms[-1]),
    rtol=0,
    atol=1e-5,
)

# the prediction depends on bead distances only: rotating and shifting the molecule
# leaves it unchanged
moved = beads.copy()
rotate(moved, (1, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0))
moved.translate((3.0, -1.0, 7.5))
moved.calc = ECGCalculator(model, property="homo")
np.testing.assert_allclose(
    moved.calc.get_property("homo", moved), calc.get_property("homo", beads), atol=1e-4
)

# %% [markdown]
# ## HOMO +- std along the trajectory
#
# `predict` evaluates a list of Atoms in one model call (and stores the values in
# `atoms.info`).

# %%
mean, std = calc.predict(trajectory_atoms)
reference = homo[n_train:]
inside = np.abs(reference - mean) <= 2 * std
rmse = float(np.sqrt(np.mean((reference - mean) ** 2)))
print(f"held-out RMSE {rmse:.4f} eV, mean std {std.mean():.4f} eV, "
      f"{100 * inside.mean():.0f}% within 2 std")  # fmt: skip
assert trajectory_atoms[5].info["homo"] == mean[5]
assert np.all(std > 0)
# the model explains part of the HOMO variance: better than predicting the training mean
assert rmse < float(np.sqrt(np.mean((reference - homo[:n_train].mean()) ** 2)))
assert inside.mean() > 0.7  # the predicted std covers most held-out errors

time_fs = np.array([atoms.info["time"] for atoms in trajectory_atoms])
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(time_fs, reference, "k.", ms=3, label="GFN2-xTB")
ax.plot(time_fs, mean, label="ECG mean")
ax.fill_between(time_fs, mean - 2 * std, mean + 2 * std, alpha=0.3, label="+- 2 std")
ax.set(xlabel="time (fs)", ylabel="HOMO (eV)")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "homo_along_trajectory.png", dpi=120)

# %% [markdown]
# ## Density of states
#
# The HOMO DOS of the CG ensemble is the average of the predicted Gaussians
# N(mu(R), sigma(R)^2) (eq. 20 of the paper). It integrates to one and is wider than the
# histogram of the means alone, because it keeps the noise the map leaves.

# %%
grid = np.linspace(homo.min() - 0.5, homo.max() + 0.5, 400)
trajectory_beads = np.stack([atoms.positions for atoms in trajectory_atoms])
dos = density_of_states(model, trajectory_beads, grid)
dos_means = density_of_states(model, trajectory_beads, grid, mean_only=True)
area = np.trapezoid(dos, grid)
print(f"DOS area {area:.4f}")
assert abs(area - 1) < 1e-2


def spread(density):
    centre = np.trapezoid(grid * density, grid) / np.trapezoid(density, grid)
    return np.sqrt(np.trapezoid((grid - centre) ** 2 * density, grid) / np.trapezoid(density, grid))


print(f"DOS std {spread(dos):.4f} eV vs means only {spread(dos_means):.4f} eV")
assert spread(dos) > spread(dos_means)

fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(reference, bins=20, density=True, alpha=0.4, label="GFN2-xTB")
ax.plot(grid, dos, label="ECG (mean + std)")
ax.plot(grid, dos_means, "--", label="ECG means only")
ax.set(xlabel="HOMO (eV)", ylabel="density (1/eV)")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "homo_dos.png", dpi=120)
print("tutorial 02 done")
