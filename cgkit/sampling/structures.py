"""Starting structures for sampling: a file readable by ASE or a SMILES string."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms


def from_smiles(smiles: str, seed: int = 0, optimize: bool = True) -> Atoms:
    """3-D structure of a molecule from SMILES with RDKit ETKDG (+ MMFF94 relaxation).

    Hydrogens are added; radicals written in the SMILES (``[O]``) are kept, so the
    molecule's spin follows from its electrons (see :func:`smiles_multiplicity`).

    Parameters
    ----------
    smiles : str
        SMILES string.
    seed : int
        Random seed of the ETKDG embedding (same seed, same geometry).
    optimize : bool
        Relax the embedded geometry with MMFF94 (UFF when MMFF lacks parameters).

    Returns
    -------
    ase.Atoms
        Atoms in RDKit order (heavy atoms as written, then hydrogens), positions in Å.

    Raises
    ------
    ValueError
        If RDKit cannot parse the SMILES or embed it in 3-D.
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem

    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None:
        raise ValueError(f"RDKit could not parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise ValueError(f"RDKit ETKDG could not embed SMILES {smiles!r} in 3-D (seed {seed})")
    if optimize:
        if AllChem.MMFFHasAllMoleculeParams(mol):
            AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
        else:
            AllChem.UFFOptimizeMolecule(mol, maxIters=2000)
    numbers = [atom.GetAtomicNum() for atom in mol.GetAtoms()]
    positions = np.asarray(mol.GetConformer().GetPositions(), dtype=float)
    return Atoms(numbers=numbers, positions=positions)


def smiles_bonds(smiles: str) -> np.ndarray:
    """Covalent bonds of ``smiles`` with explicit hydrogens, in :func:`from_smiles` atom order.

    Returns
    -------
    bonds : ndarray of int, shape (K, 2)
        0-based atom index pairs.
    """
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        raise ValueError(f"RDKit could not parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def smiles_multiplicity(smiles: str) -> int:
    """Spin multiplicity 2S+1 implied by the radical electrons written in ``smiles``."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit could not parse SMILES {smiles!r}")
    return int(Descriptors.NumRadicalElectrons(mol)) + 1


def read_structure(path: str | Path, index: int = 0) -> Atoms:
    """Read one structure from any file ASE can read (xyz, extxyz, pdb, traj, ...).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ASE cannot read frame ``index`` of ``path``.
    """
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"structure file {path} does not exist")
    try:
        atoms = read(path, index=index)
    except Exception as exc:  # ASE raises many types for unreadable files
        raise ValueError(f"could not read frame {index} of structure file {path}: {exc}") from exc
    atoms.calc = None
    return atoms
