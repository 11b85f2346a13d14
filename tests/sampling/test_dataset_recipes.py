"""The shipped recipes (datasets/*.toml) parse, and their maps fit their molecules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cgkit.qc import PySCFLabeler, XTBLabeler
from cgkit.sampling.recipe import Recipe

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
RECIPES = sorted(DATASETS.glob("*.toml"))
#: peptide recipes: OpenMM frames, positions only, decimation (backbone) maps
PEPTIDES = [p for p in RECIPES if "[openmm]" in p.read_text()]
LABELLED = [p for p in RECIPES if p not in PEPTIDES]


def bonds_of(recipe) -> set[frozenset]:
    from rdkit import Chem

    mol = Chem.AddHs(Chem.MolFromSmiles(recipe.molecule.smiles))
    return {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in mol.GetBonds()}


def groups_of(cgmap) -> set[frozenset]:
    return {frozenset(np.flatnonzero(row).tolist()) for row in cgmap.weights}


@pytest.mark.parametrize("path", LABELLED, ids=[p.stem for p in LABELLED])
def test_recipe_builds_its_parts(path):
    recipe = Recipe.read(path)
    atoms = recipe.start_structure()
    maps = recipe.make_maps(atoms)
    assert maps and all(m.n_atoms == len(atoms) for m in maps.values())
    for name, cgmap in maps.items():  # every atom in exactly one bead, beads at centres of mass
        assert sorted(np.flatnonzero(cgmap.weights.sum(axis=0) > 0)) == list(range(len(atoms)))
        np.testing.assert_allclose(cgmap.weights.sum(axis=1), 1.0, err_msg=name)
    labelers = recipe.make_labelers()
    assert labelers and recipe.md is not None and recipe.size > 0
    assert recipe.fingerprint() == Recipe.read(path).fingerprint()


def test_bithiophene_maps_respect_the_c2_symmetry():
    recipe = Recipe.read(DATASETS / "bithiophene.toml")
    swap = {4: 5, 0: 6, 1: 7, 2: 8, 3: 9, 10: 13, 11: 14, 12: 15}
    swap.update({v: k for k, v in swap.items()})
    bonds = bonds_of(recipe)
    assert {frozenset(swap[i] for i in bond) for bond in bonds} == bonds  # an automorphism
    maps = recipe.make_maps(recipe.start_structure())
    assert sorted(m.n_beads for m in maps.values()) == [2, 4, 6, 8]
    for name, cgmap in maps.items():
        groups = groups_of(cgmap)
        assert {frozenset(swap[i] for i in g) for g in groups} == groups, name
    assert isinstance(recipe.make_labelers()[0], XTBLabeler)


def test_tempo_maps_keep_or_merge_the_nitroxide():
    recipe = Recipe.read(DATASETS / "tempo.toml")
    assert recipe.multiplicity == 2 and recipe.make_labelers()[0].multiplicity == 2
    assert frozenset((9, 10)) in bonds_of(recipe)  # N9-O10
    maps = recipe.make_maps(recipe.start_structure())
    assert {frozenset([9]), frozenset([10])} <= groups_of(maps["keep_no"])
    assert frozenset([9, 10]) in groups_of(maps["merge_no"])


def test_sexithiophene_smarts_map_is_one_bead_per_ring():
    recipe = Recipe.read(DATASETS / "methyl-sexithiophene.toml")
    atoms = recipe.start_structure()
    assert atoms.get_chemical_formula() == "C30H26S6"
    maps = recipe.make_maps(atoms)
    assert maps["6bead"].n_beads == 6 and maps["12bead"].n_beads == 12
    for group in groups_of(maps["6bead"]):  # ring + methyl: S, 5 C, 4 H (5 H at chain ends)
        numbers = atoms.numbers[sorted(group)]
        n_h = 5 if {36, 61} & group else 4
        assert sorted(numbers) == [1] * n_h + [6] * 5 + [16]


def test_dft_recipe_uses_the_published_level_of_theory():
    recipe = Recipe.read(DATASETS / "bithiophene-dft.toml")
    (labeler,) = recipe.make_labelers()
    assert isinstance(labeler, PySCFLabeler)
    assert (labeler.xc, labeler.basis, labeler.density_fit) == ("wb97x-d3", "def2-svp", True)


@pytest.mark.parametrize("path", PEPTIDES, ids=[p.stem for p in PEPTIDES])
def test_peptide_recipe_maps_its_backbone(path):
    pytest.importorskip("openmm")
    from cgkit.sampling.openmm_md import backbone_map

    recipe = Recipe.read(path)
    assert recipe.openmm is not None and recipe.md is None and not recipe.labelers
    assert recipe.openmm.forcefield == ("amber14-all.xml",)
    assert recipe.openmm.temperature == 300.0
    assert recipe.openmm.interval * recipe.openmm.timestep == 1000.0  # frames every 1 ps
    structure = recipe.peptide()
    atoms = recipe.start_structure()
    assert atoms.get_chemical_symbols() == list(structure.symbols)
    # the hand-written atom indices are the heavy backbone atoms of the built peptide
    cgmap = recipe.make_maps(atoms)["backbone"]
    np.testing.assert_array_equal(cgmap.weights, backbone_map(structure).weights)
    names = [a.name for a in structure.topology.atoms()]
    assert [names[i] for i in np.argmax(cgmap.weights, axis=1)] == list(cgmap.bead_names)


def test_peptide_sequence_parses_to_one_letter_codes():
    recipe = Recipe.read(DATASETS / "ace-ala-ala-nme.toml")
    assert recipe.peptide_sequence == "AA"
    assert Recipe.read(DATASETS / "alanine-dipeptide.toml").peptide_sequence == "A"


@pytest.mark.parametrize(
    ("molecule", "source", "message"),
    [
        ('sequence = "ALA-NME"', "[openmm]", "must read ACE-<residues>-NME"),
        ('sequence = "ACE-XYZ-NME"', "[openmm]", "unknown residue name"),
        ('smiles = "CC"', "[openmm]", "needs a peptide .molecule. sequence"),
        ('sequence = "ACE-ALA-NME"\nsmiles = "CC"', "[openmm]", "exactly one of"),
        ('sequence = "ACE-ALA-NME"', "[openmm]\ntimestep = 0.0", "timestep"),
        ('sequence = "ACE-ALA-NME"', "[openmm]\n[md]", "exactly one frame source"),
    ],
)
def test_bad_peptide_recipes_name_the_fault(molecule, source, message):
    from cgkit.sampling.recipe import RecipeError

    text = f'name = "p"\nsize = 4\n[molecule]\n{molecule}\n{source}\n'
    with pytest.raises(RecipeError, match=message):
        Recipe.from_text(text, source="bad.toml")


def test_smiles_recipe_maps_carry_bead_topology_and_match_rdkit_order():
    from cgkit.sampling.structures import from_smiles, smiles_bonds

    recipe = Recipe.read(Path(__file__).resolve().parents[2] / "datasets" / "bithiophene.toml")
    bonds = recipe.atom_bonds()
    atoms = from_smiles(recipe.molecule.smiles)
    # every bond joins atoms that are close in the embedded structure (same atom order)
    lengths = np.linalg.norm(atoms.positions[bonds[:, 0]] - atoms.positions[bonds[:, 1]], axis=1)
    assert len(bonds) == 17 and np.all(lengths < 2.0)
    np.testing.assert_array_equal(bonds, smiles_bonds("c1ccsc1-c1cccs1"))
    eight = recipe.make_maps(atoms)["8bead"]
    # 8-bead chain OA-IA-CA-SA... : the two rings join through the inner alpha carbons
    assert eight.bead_bonds is not None and len(eight.bead_bonds) >= 7
    assert eight.bead_dihedrals is not None and len(eight.bead_dihedrals) > 0


def test_resized_recipe_changes_only_size_and_equilibration():
    recipe = Recipe.read(Path(__file__).resolve().parents[2] / "datasets" / "bithiophene.toml")
    small = recipe.resized(40, equilibration=100)
    assert (small.size, small.md.equilibration) == (40, 100)
    assert small.md.temperature == recipe.md.temperature and small.maps == recipe.maps
    assert recipe.size == 2000 and recipe.md.equilibration == 1000  # the original is untouched
    assert recipe.resized(10).md == recipe.md
    assert small.fingerprint() != recipe.fingerprint()
