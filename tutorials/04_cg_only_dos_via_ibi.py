# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 04 - A density of states from CG simulations alone (IBI + ECG)
#
# ECG predicts an electronic property from bead positions. To use it without atoms at all
# we also need CG *configurations*: a CG force field that samples the mapped ensemble.
# Iterative Boltzmann inversion (IBI) tabulates bonded CG potentials so that CG MD
# reproduces the bond, angle and dihedral distributions of the mapped all-atom frames:
#
# U_{i+1}(x) = U_i(x) + alpha kT ln(P_i(x) / P_target(x)).
#
# Then: CG MD with the tabulated calculator -> ECG predictions on its frames -> HOMO
# density of states, compared with the all-atom reference.
#
# `CGKIT_SMOKE=1`: 80 frames, two short IBI iterations. Outputs in `$CGKIT_TUTORIAL_OUT`
# (default: a temporary folder).

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from rdkit import Chem

import cgkit.data
from cgkit.calculators import TabulatedCGCalculator
from cgkit.data.builder import DatasetBuilder
from cgkit.ecg import ECGRegressor
from cgkit.ecg.dos import wasserstein_to_samples
from cgkit.ibi import IterativeBoltzmannInversion, cg_only_dos, run_cg_md, run_ibi
from cgkit.mapping import CGMap
from cgkit.sampling import Recipe

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial04_"))
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
# ## A map with a CG topology
#
# IBI needs bonds between beads. The recipe's maps are plain atom groups; adding the atom
# bonds (from the SMILES, whose atom order the recipe uses) lets the map derive bead
# bonds, angles and dihedrals.
# The 4-bead map puts (S + alpha carbons) and (beta carbons) of each ring into beads,
# a chain BA-SA-SB-BB.

# %%
with cgkit.data.open(store_path) as store:
    system = store[recipe.name]
    frames = system.ok_frames("homo")
    positions = system.read_positions(frames)
    homo = system.read_labels("homo", frames)
    masses = system.masses
    stored_map = system.maps["4bead"]
rdkit_molecule = Chem.AddHs(Chem.MolFromSmiles(recipe.molecule.smiles))  # the recipe's atom order
atom_bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in rdkit_molecule.GetBonds()])
spec = next(m for m in recipe.maps if m.name == "4bead")
cgmap = CGMap.from_groups(
    [list(g) for g in spec.groups], masses=masses, bead_names=spec.bead_names,
    atom_bonds=atom_bonds,
)  # fmt: skip
assert np.allclose(cgmap.weights, stored_map.weights)
print(f"{len(atom_bonds)} atom bonds -> bead bonds {cgmap.bead_bonds.tolist()}, "
      f"{len(cgmap.bead_angles)} angles, {len(cgmap.bead_dihedrals)} dihedral")  # fmt: skip
assert len(atom_bonds) == 17  # C8H6S2: 2 x 5 ring bonds, the inter-ring bond, 6 C-H
bead_positions = cgmap.map_positions(positions)

# %% [markdown]
# ## IBI
#
# `run_ibi` picks the independent interactions, starts them from direct Boltzmann
# inversion, and iterates CG Langevin MD (many non-interacting copies of the molecule at
# once) and updates; the best iteration's tables become `ibi.calculator_`.

# %%
ibi_settings = (
    {"n_iterations": 2, "md_steps": 1000, "equilibration": 100, "n_chains": 10}
    if SMOKE
    else {"n_iterations": 10, "md_steps": 8000, "equilibration": 300, "n_chains": 50}
)
ibi = IterativeBoltzmannInversion(temperature=recipe.md.temperature, **ibi_settings, seed=0)
run_ibi(cgmap, bead_positions, ibi, out_dir=OUT / "ibi", report=print)
js_best = ibi.history_[ibi.best_iteration_]["js"]
print(f"best iteration {ibi.best_iteration_}: JS divergences {js_best}")
assert (OUT / "ibi" / "potentials.json").exists()
assert all(np.isfinite(v) for v in js_best.values())
# IBI keeps the best iteration: never worse than the direct Boltzmann inversion
worst = [max(entry["js"].values()) for entry in ibi.history_]
assert max(js_best.values()) == min(worst)

# %% [markdown]
# ## The tabulated calculator
#
# `TabulatedCGCalculator` is an ordinary ASE calculator for bead Atoms. Its forces are the
# exact negative gradient of its energy (smooth splines), which we check by finite
# differences, then we run CG MD with it.

# %%
calculator = TabulatedCGCalculator.read(OUT / "ibi" / "potentials.json")
beads = Atoms(f"X{cgmap.n_beads}", positions=bead_positions[0], masses=cgmap.bead_masses)
beads.calc = calculator
forces = beads.get_forces()
step = 1e-6  # the fitted tables are stiff: central differences need a small step
numeric = np.zeros_like(forces)
for bead in range(len(beads)):
    for axis in range(3):
        shifted = beads.positions.copy()
        shifted[bead, axis] += step
        up = calculator.energy_and_forces(shifted)[0]
        shifted[bead, axis] -= 2 * step
        down = calculator.energy_and_forces(shifted)[0]
        numeric[bead, axis] = -(up - down) / (2 * step)
print(f"max |F - F_fd| = {np.abs(forces - numeric).max():.2e} eV/Å")
np.testing.assert_allclose(forces, numeric, atol=1e-6)
np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-8)  # internal coordinates only

cg_steps = 2000 if SMOKE else 50000
cg_trajectory = run_cg_md(
    beads, calculator, recipe.md.temperature, cg_steps, equilibration=200, seed=1
)
print(f"CG MD: {len(cg_trajectory)} frames")
assert np.all(np.isfinite(cg_trajectory))

# %% [markdown]
# ## HOMO density of states without atoms
#
# An ECG model trained on mapped all-atom frames predicts N(mu, sigma^2) for each CG MD
# frame; their average is the CG-only DOS. The 1-Wasserstein distance to the all-atom
# HOMO values measures the agreement (eV).

# %%
ecg_settings = (
    {"n_epochs": 150, "n_inducing": 32, "batch_size": 40}
    if SMOKE
    else {"n_epochs": 300, "n_inducing": 200, "batch_size": 128}
)
model = ECGRegressor(**ecg_settings, seed=0).fit(bead_positions, homo)
grid = np.linspace(homo.min() - 0.6, homo.max() + 0.6, 500)
dos_cg = cg_only_dos(model, cg_trajectory, grid)
dos_aa = cg_only_dos(model, bead_positions, grid)
w_cg = wasserstein_to_samples(grid, dos_cg, homo)
w_aa = wasserstein_to_samples(grid, dos_aa, homo)
print(f"W1 to the xTB HOMO values: CG-only DOS {w_cg:.4f} eV, mapped-AA DOS {w_aa:.4f} eV")
assert abs(np.trapezoid(dos_cg, grid) - 1) < 1e-2
# the CG-only DOS sits where the reference is: within a fraction of its spread
assert w_cg < homo.std() + w_aa
print("tutorial 04 done")
