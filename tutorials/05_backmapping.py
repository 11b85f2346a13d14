# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 05 - Backmapping a polystyrene melt
#
# Backmapping puts the atoms back into a CG configuration. Two backmappers share one
# interface, `transform(cg_atoms, seed) -> ase.Atoms`:
#
# * `GeometricBackmapper` - the baseline: every atom starts at its bead plus noise, then
#   the force field is minimised with the atoms restrained to their beads.
# * `DBMBackmapper` - deep backmapping (Stieffenhofer, Wand & Bereau 2020): a conditional
#   WGAN places the atoms bead by bead from a voxelised picture of their surroundings,
#   trained on paired all-atom / CG snapshots.
#
# A `ForceFieldRelaxer` minimises any all-atom structure with the force field, restrained
# to its beads; `RelaxedBackmapper(backmapper, relaxer)` runs it after a backmapper.
#
# Data: the syndiotactic polystyrene melt of the DBM authors (`shared/data/sps_melt`, not
# shipped with cgkit: set `CGKIT_SHARED` to the folder holding `data/sps_melt`). Without it
# this tutorial prints a message and stops.
#
# `CGKIT_SMOKE=1`: 4 of the 36 chains, 2 training snapshots and a few training batches.
# Outputs in `$CGKIT_TUTORIAL_OUT` (default: a temporary folder).

# %%
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase.io import read

from cgkit.backmap import (
    DBMBackmapper,
    DBMConfig,
    ForceFieldRelaxer,
    GeometricBackmapper,
    RelaxedBackmapper,
    RelaxStage,
    read_forcefield,
    read_itp,
)
from cgkit.backmap.metrics import close_contacts, compare_structures, plot_comparison
from cgkit.mapping import CGMap, minimum_image, polystyrene_fritz_map

torch.set_num_threads(1)
SMOKE = os.environ.get("CGKIT_SMOKE") == "1"
OUT = Path(os.environ.get("CGKIT_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="cgkit_tutorial05_"))
OUT.mkdir(parents=True, exist_ok=True)
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
DATA = Path(os.environ.get("CGKIT_SHARED", REPO.parent / "shared")) / "data" / "sps_melt"
if not (DATA / "mapping" / "PS1.map").exists():
    print(f"tutorial 05 skipped: the sPS melt data is not at {DATA} (set CGKIT_SHARED)")
    sys.exit(0)

# %% [markdown]
# ## The system
#
# The force field (`ff.txt`) and one chain's topology (`PS1.itp`, 162 atoms) are
# replicated over the chains. The CG beads follow Fritz et al.'s polystyrene map, whose
# backbone beads share atoms with their neighbours; DBM starts each atom from the bead
# `PS1.map` assigns it to.

# %%
n_chains, n_train = (4, 2) if SMOKE else (36, 12)
forcefield = read_forcefield(DATA / "forcefield" / "ff.txt")
topology = read_itp(DATA / "aa_top" / "PS1.itp").replicate(n_chains)
cgmap = polystyrene_fritz_map(
    DATA / "aa_top" / "PS1.itp", DATA / "mapping" / "PS1.map", n_chains=n_chains
)
atom_to_bead = np.asarray(CGMap.read(DATA / "mapping" / "PS1.map").repeat(n_chains).weights).argmax(
    axis=0
)
pairs = []
for aa_path in sorted((DATA / "reference_snapshots").glob("*/aa/*.gro")):
    aa = read(aa_path)[: topology.n_atoms]  # atoms are ordered chain by chain
    cg = read(aa_path.parent.parent / "cg" / aa_path.name)[: cgmap.n_beads]
    pairs.append((aa, cg))
train_pairs, (reference, cg_snapshot) = pairs[:n_train], pairs[-1]
print(f"{n_chains} chains: {topology.n_atoms} atoms, {cgmap.n_beads} beads; "
      f"{len(train_pairs)} training snapshots")  # fmt: skip

# the map reproduces the shipped CG snapshot from the all-atom one (0.001 nm precision)
mapped = cgmap.map_positions(reference.positions, cell=reference.cell.array)
offset = minimum_image((mapped - cg_snapshot.positions)[None], reference.cell.array)[0]
print(f"map vs shipped CG: max deviation {np.abs(offset).max():.4f} Å")
assert np.abs(offset).max() < 0.02


def bead_residual(atoms):
    """Largest distance (Å) between the mapped backmapped atoms and the CG beads."""
    beads = cgmap.map_positions(atoms.positions, cell=atoms.cell.array)
    offsets = minimum_image((beads - cg_snapshot.positions)[None], atoms.cell.array)[0]
    return float(np.linalg.norm(offsets, axis=1).max())


# %% [markdown]
# ## Geometric baseline

# %%
baseline_settings = {"bonded_steps": 100, "full_steps": 50} if SMOKE else {}
baseline = GeometricBackmapper(
    forcefield, topology, cgmap, atom_to_bead=atom_to_bead, **baseline_settings
)
tic = time.perf_counter()
baseline_atoms = baseline.transform(cg_snapshot, seed=0)
residual = bead_residual(baseline_atoms)
print(f"baseline: {time.perf_counter() - tic:.1f} s, beads off by <= {residual:.3f} Å")
assert len(baseline_atoms) == topology.n_atoms
assert residual < 0.5  # restrained to the beads

# %% [markdown]
# ## DBM
#
# Training draws batches of local environments from the snapshot pairs (the smoke run's few
# batches only show the mechanics; the benchmark `benchmarks/backmap_sps.py` trains for
# real). The model saves as a state dict with a JSON config and loads back identically.

# %%
config = (
    DBMConfig(max_batches=4, batch_size=4, n_gibbs=0, n_candidates=1, n_repair=0)
    if SMOKE
    else DBMConfig(
        max_batches=400, batch_size=8, n_epochs=100, n_gibbs=1, n_candidates=2, n_repair=2
    )
)
tic = time.perf_counter()
dbm = DBMBackmapper(forcefield, config).fit(train_pairs, topology, cgmap, atom_to_bead=atom_to_bead)
print(f"DBM training: {time.perf_counter() - tic:.1f} s")
dbm.save(OUT / "dbm.pt")
dbm = DBMBackmapper.load(OUT / "dbm.pt")
tic = time.perf_counter()
dbm_atoms = dbm.transform(cg_snapshot, seed=0)
print(f"DBM: {time.perf_counter() - tic:.1f} s, beads off by <= {bead_residual(dbm_atoms):.2e} Å")
assert len(dbm_atoms) == topology.n_atoms
assert bead_residual(dbm_atoms) < 1e-6  # projected exactly onto the beads
np.testing.assert_array_equal(dbm_atoms.get_atomic_numbers(), reference.get_atomic_numbers())

# %% [markdown]
# ## DBM, then a short relaxation
#
# The same DBM structure after L-BFGS steps of the force field, restrained to the beads and
# projected back onto them: the generator's placement errors (stretched bonds, bent angles,
# close pairs) relax while the phenyl rings DBM placed stay planar, which the baseline's
# minimisation from noise does not achieve (benchmark: DBM + 200 steps). The seed is the
# same, so the DBM step reproduces `dbm_atoms`.

# %%
relaxer = ForceFieldRelaxer(forcefield, topology, cgmap,
                            [RelaxStage("lbfgs", 30 if SMOKE else 200)])  # fmt: skip
refined = RelaxedBackmapper(dbm, relaxer)
tic = time.perf_counter()
refined_atoms = refined.transform(cg_snapshot, seed=0)
print(f"DBM + relaxation: {time.perf_counter() - tic:.1f} s, "
      f"beads off by <= {bead_residual(refined_atoms):.2e} Å")  # fmt: skip
assert bead_residual(refined_atoms) < 1e-6

# %% [markdown]
# ## Compare with the reference
#
# Backbone angles and dihedrals, phenyl impropers, per-chain LJ energies and the RDF of
# non-bonded carbons, as Jensen-Shannon divergences (bits) to the reference snapshot, and
# close contacts (pairs nearer than 0.7 LJ sigma).

# %%
results = compare_structures(
    {
        "reference": [reference],
        "baseline": [baseline_atoms],
        "dbm": [dbm_atoms],
        "dbm+relax": [refined_atoms],
    },  # fmt: skip
    topology,
    forcefield,
)
for name, divergences in results["js"].items():
    print(name, {k: round(v, 3) for k, v in divergences.items()},
          "close contacts", results["close_contacts"][name])  # fmt: skip
figures = plot_comparison(results, OUT)
assert figures and all(Path(f).exists() for f in figures)
assert all(0 <= v <= 1 for d in results["js"].values() for v in d.values())
print("reference close contacts", results["close_contacts"]["reference"])

# the baseline's minimisation removes overlaps of the atoms piled onto their beads
start = reference.copy()
start.positions = cg_snapshot.positions[atom_to_bead] + np.random.default_rng(0).normal(
    scale=baseline.displacement, size=(len(start), 3)
)
start_contacts = close_contacts(start, topology, forcefield)
after_contacts = results["close_contacts"]["baseline"][0]
print(f"close contacts before minimisation {start_contacts}, after {after_contacts}")
assert after_contacts < 0.5 * start_contacts
# the relaxation lowers the force-field energy of the DBM structure
energy = relaxer.energy_model()
before, after = (float(energy(torch.tensor(a.positions), cell=a.cell.array))
                 for a in (dbm_atoms, refined_atoms))  # fmt: skip
print(f"DBM energy {before:.1f} eV, relaxed {after:.1f} eV")
assert after < before
print("tutorial 05 done")
