"""Peptide MD with OpenMM (amber14, vacuum) streamed into a :mod:`cgkit.data` store.

The starting structure of a capped peptide is built with RDKit from its sequence
(ACE-X-...-NME, ETKDG), atoms named as in the PDB so that ``amber14-all.xml`` templates
match. Frames are taken at a fixed time interval (Å, fs), the potential energy in eV
and forces in eV/Å are stored with each frame.

>>> path = simulate_peptide("adp.h5", "A", n_frames=1000)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgkit._optional import require
from cgkit.units import KJMOL_EV, NM_TO_ANGSTROM

#: one-letter code -> PDB residue name (standard amino acids)
RESIDUES = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU",
    "G": "GLY", "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE",
    "P": "PRO", "S": "SER", "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
}  # fmt: skip

FORCEFIELD_FILES = ("amber14-all.xml",)


@dataclass(frozen=True)
class PeptideStructure:
    """A capped peptide: OpenMM topology, positions in Å and backbone atom indices.

    Attributes
    ----------
    topology : openmm.app.Topology
    positions : ndarray (N, 3), Å
    symbols : tuple of str, length N
    bonds : ndarray (K, 2) int
    backbone : ndarray (B,) int
        Heavy backbone atoms in chain order: ACE C, then N, CA, C of every residue,
        then NME N.
    phi_psi : ndarray (n_residues, 2, 4) int
        Atom quadruples of phi (C-N-CA-C) and psi (N-CA-C-N) of every residue.
    """

    topology: object
    positions: np.ndarray
    symbols: tuple
    bonds: np.ndarray
    backbone: np.ndarray
    phi_psi: np.ndarray


def capped_peptide(sequence: str, seed: int = 0) -> PeptideStructure:
    """Build ACE-``sequence``-NME with RDKit (ETKDG) and PDB atom/residue names.

    Parameters
    ----------
    sequence : str
        One-letter amino-acid codes, e.g. ``"A"`` for alanine dipeptide.
    seed : int
        ETKDG random seed.
    """
    app = require("openmm.app")
    from rdkit import Chem
    from rdkit.Chem import AllChem

    sequence = sequence.upper()
    bad = [c for c in sequence if c not in RESIDUES]
    if not sequence or bad:
        raise ValueError(f"peptide sequence {sequence!r}: unknown residue codes {bad}")
    core = Chem.MolFromSequence(sequence)
    # RDKit builds the free peptide with PDB names; replace the C-terminal OH by NME
    # and put an acetyl on the N terminus
    mol = Chem.RWMol(core)
    names = [a.GetPDBResidueInfo().GetName().strip() for a in mol.GetAtoms()]
    n_term = names.index("N")  # N of the first residue
    last = len(sequence)
    oxt = names.index("OXT")  # hydroxyl O of the C terminus
    nme_n = oxt
    mol.GetAtomWithIdx(nme_n).SetAtomicNum(7)
    nme_c = mol.AddAtom(Chem.Atom(6))
    mol.AddBond(nme_n, nme_c, Chem.BondType.SINGLE)
    ace_c = mol.AddAtom(Chem.Atom(6))
    ace_o = mol.AddAtom(Chem.Atom(8))
    ace_ch3 = mol.AddAtom(Chem.Atom(6))
    mol.AddBond(ace_c, ace_o, Chem.BondType.DOUBLE)
    mol.AddBond(ace_c, ace_ch3, Chem.BondType.SINGLE)
    mol.AddBond(ace_c, n_term, Chem.BondType.SINGLE)

    def set_info(idx, name, resname, resnum):
        res = Chem.AtomPDBResidueInfo()
        res.SetName(f" {name:<3}" if len(name) < 4 else name)
        res.SetResidueName(resname)
        res.SetResidueNumber(resnum)
        mol.GetAtomWithIdx(idx).SetMonomerInfo(res)

    set_info(nme_n, "N", "NME", last + 1)
    set_info(nme_c, "C", "NME", last + 1)
    for idx, name in ((ace_c, "C"), (ace_o, "O"), (ace_ch3, "CH3")):
        set_info(idx, name, "ACE", 0)
    for atom in mol.GetAtoms():
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    mol = mol.GetMol()
    Chem.SanitizeMol(mol)
    mol = Chem.AddHs(mol, addCoords=False)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise RuntimeError(f"peptide {sequence!r}: RDKit embedding failed (seed {seed})")
    AllChem.MMFFOptimizeMolecule(mol)

    # residue of every atom (hydrogens follow their heavy atom), PDB-like names
    heavy_info = {}
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() > 1:
            i = atom.GetPDBResidueInfo()
            heavy_info[atom.GetIdx()] = (
                i.GetResidueNumber(),
                i.GetResidueName(),
                i.GetName().strip(),
            )
    h_count: dict[int, int] = {}
    atoms = []  # (resnum, resname, name, element, rdkit index)
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() > 1:
            resnum, resname, name = heavy_info[atom.GetIdx()]
        else:
            parent = atom.GetNeighbors()[0].GetIdx()
            resnum, resname, pname = heavy_info[parent]
            h_count[parent] = h_count.get(parent, 0) + 1
            k = h_count[parent]
            if pname == "N":
                name = "H"
            elif pname == "CA":
                name = "HA" if resname != "GLY" else f"HA{k + 1}"
            elif resname in ("ACE", "NME") and pname in ("CH3", "C"):
                name = f"HH3{k}"
            else:
                name = f"H{pname[1:]}{k}" if len(pname) > 1 else f"H{k}"
        atoms.append((resnum, resname, name, atom.GetSymbol(), atom.GetIdx()))
    atoms.sort(key=lambda a: (a[0], a[4]))
    order = [a[4] for a in atoms]
    rank = {old: new for new, old in enumerate(order)}

    topology = app.Topology()
    chain = topology.addChain()
    residues, omm_atoms = {}, []
    element = app.Element
    for resnum, resname, name, symbol, _ in atoms:
        if resnum not in residues:
            residues[resnum] = topology.addResidue(resname, chain)
        omm_atoms.append(topology.addAtom(name, element.getBySymbol(symbol), residues[resnum]))
    bonds = np.array(
        sorted(
            tuple(sorted((rank[b.GetBeginAtomIdx()], rank[b.GetEndAtomIdx()])))
            for b in mol.GetBonds()
        ),
        dtype=np.int64,
    )
    for i, j in bonds:
        topology.addBond(omm_atoms[i], omm_atoms[j])
    positions = mol.GetConformer().GetPositions()[order]

    def index(resnum, name):
        return next(k for k, a in enumerate(atoms) if a[0] == resnum and a[2] == name)

    backbone = [index(0, "C")]
    phi_psi = []
    for r in range(1, last + 1):
        backbone += [index(r, "N"), index(r, "CA"), index(r, "C")]
    backbone.append(index(last + 1, "N"))
    for r in range(1, last + 1):
        c_prev = backbone[3 * (r - 1)]
        n, ca, c = backbone[3 * r - 2 : 3 * r + 1]
        n_next = backbone[3 * r + 1]
        phi_psi.append([[c_prev, n, ca, c], [n, ca, c, n_next]])
    return PeptideStructure(
        topology=topology,
        positions=np.asarray(positions, dtype=float),
        symbols=tuple(a[3] for a in atoms),
        bonds=bonds,
        backbone=np.asarray(backbone, dtype=np.int64),
        phi_psi=np.asarray(phi_psi, dtype=np.int64),
    )


def create_openmm_system(topology, forcefield_files=FORCEFIELD_FILES, constraints=None):
    """Vacuum OpenMM system (no cutoff) of ``topology`` with the given force field files.

    ``constraints`` is an ``openmm.app`` constraint type (None, ``app.HBonds``).
    """
    app = require("openmm.app")
    forcefield = app.ForceField(*forcefield_files)
    return forcefield.createSystem(
        topology, nonbondedMethod=app.NoCutoff, constraints=constraints, rigidWater=False
    )


def run_openmm_md(
    system,
    topology,
    positions: np.ndarray,
    n_frames: int,
    interval_fs: float = 1000.0,
    timestep_fs: float = 2.0,
    temperature: float = 300.0,
    friction_per_ps: float = 1.0,
    equilibration_fs: float = 20000.0,
    seed: int = 0,
    platform: str = "Reference",
    callback=None,
    chunk: int = 100,
):
    """Langevin (middle) MD of an OpenMM system; frames every ``interval_fs``.

    Parameters
    ----------
    system : openmm.System
    topology : openmm.app.Topology
    positions : ndarray (N, 3), Å
        Starting structure (energy-minimised first).
    n_frames : int
    interval_fs, timestep_fs, equilibration_fs : float
        Frame interval, time step and discarded equilibration, fs.
    temperature : float
        K.
    friction_per_ps : float
    seed : int
        Integrator and velocity seed (runs are reproducible on the Reference platform).
    platform : str
        OpenMM platform name.
    callback : callable(positions (F,N,3) Å, energies (F,) eV, forces (F,N,3) eV/Å,
        times (F,) fs), optional
        Receives frames in chunks of ``chunk`` (e.g. to append them to a store).

    Returns
    -------
    positions (n_frames, N, 3) Å, energies (n_frames,) eV, forces (n_frames, N, 3) eV/Å,
    times (n_frames,) fs
    """
    mm = require("openmm")
    unit = require("openmm.unit")
    app = require("openmm.app")
    steps = int(round(interval_fs / timestep_fs))
    if steps < 1 or n_frames < 1:
        raise ValueError(f"need n_frames >= 1 and interval >= timestep, got {n_frames}, {steps}")
    integrator = mm.LangevinMiddleIntegrator(
        temperature * unit.kelvin, friction_per_ps / unit.picosecond, timestep_fs * unit.femtosecond
    )
    integrator.setRandomNumberSeed(seed + 1)
    simulation = app.Simulation(
        topology, system, integrator, mm.Platform.getPlatformByName(platform)
    )
    simulation.context.setPositions(np.asarray(positions) / NM_TO_ANGSTROM)
    simulation.minimizeEnergy()
    simulation.context.setVelocitiesToTemperature(temperature * unit.kelvin, seed + 1)
    simulation.step(int(round(equilibration_fs / timestep_fs)))
    kjmol_per_nm = unit.kilojoule_per_mole / unit.nanometer
    out = {"pos": [], "e": [], "f": [], "t": []}
    buffer = {"pos": [], "e": [], "f": [], "t": []}
    for frame in range(n_frames):
        simulation.step(steps)
        state = simulation.context.getState(getPositions=True, getEnergy=True, getForces=True)
        buffer["pos"].append(state.getPositions(asNumpy=True).value_in_unit(unit.angstrom))
        buffer["e"].append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        buffer["f"].append(state.getForces(asNumpy=True).value_in_unit(kjmol_per_nm))
        buffer["t"].append((frame + 1) * steps * timestep_fs)
        if len(buffer["t"]) == chunk or frame == n_frames - 1:
            pos = np.asarray(buffer["pos"], dtype=float)
            energy = np.asarray(buffer["e"]) * KJMOL_EV
            forces = np.asarray(buffer["f"]) * KJMOL_EV / NM_TO_ANGSTROM
            times = np.asarray(buffer["t"], dtype=float)
            if callback is not None:
                callback(pos, energy, forces, times)
            for key, value in zip(
                ("pos", "e", "f", "t"), (pos, energy, forces, times), strict=True
            ):
                out[key].append(value)
                buffer[key] = []
    return tuple(np.concatenate(out[k]) for k in ("pos", "e", "f", "t"))


def backbone_map(structure: PeptideStructure, with_cb: bool = False):
    """Decimation map: one bead per heavy backbone atom (ACE C, N, CA, C, ..., NME N).

    With ``with_cb`` the CB atoms of non-glycine residues are added as beads after
    the backbone.
    """
    from cgkit.mapping import CGMap

    groups = [[int(i)] for i in structure.backbone]
    names = ["C", *(["N", "CA", "C"] * ((len(groups) - 2) // 3)), "N"]
    if with_cb:
        for k, atom in enumerate(structure.topology.atoms()):
            if atom.name == "CB":
                groups.append([k])
                names.append("CB")
    weights = np.zeros((len(groups), len(structure.symbols)))
    for bead, group in enumerate(groups):
        weights[bead, group] = 1.0 / len(group)
    return CGMap(
        weights,
        bead_names=names,
        atom_bonds=structure.bonds,
        symbols=list(structure.symbols),
        allow_unmapped=True,
    )


def simulate_peptide(
    path,
    sequence: str = "A",
    n_frames: int = 1000,
    system_name: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
    **md_options,
) -> Path:
    """Run vacuum amber14 MD of ACE-``sequence``-NME and write a store.

    The store gets one system (default name ``"alanine-dipeptide"`` for ``"A"``, else
    ``"peptide-<sequence>"``) with positions (Å), time (fs), forces (eV/Å), the label
    ``energy`` (eV) and the map ``"backbone"`` (:func:`backbone_map`). ``md_options``
    go to :func:`run_openmm_md`.

    Returns
    -------
    Path of the store.
    """
    import cgkit.data

    structure = capped_peptide(sequence, seed=seed)
    system = create_openmm_system(structure.topology, constraints=require("openmm.app").HBonds)
    name = system_name or (
        "alanine-dipeptide" if sequence.upper() == "A" else f"peptide-{sequence}"
    )
    provenance = {
        "sampler": "cgkit.sampling.openmm_md.simulate_peptide",
        "sequence": sequence,
        "forcefield": list(FORCEFIELD_FILES),
        "seed": seed,
        "openmm_version": require("openmm").__version__,
        **{k: v for k, v in md_options.items() if k != "callback"},
    }
    with cgkit.data.create(path, provenance=provenance, overwrite=overwrite) as store:
        target = store.add_system(name, numbers=list(structure.symbols), bonds=structure.bonds)
        target.add_map("backbone", backbone_map(structure))

        def append(pos, energy, forces, times):
            target.append_frames(pos, time=times, forces=forces, labels={"energy": energy})
            store.flush()

        run_openmm_md(system, structure.topology, structure.positions, n_frames, seed=seed,
                      callback=append, **md_options)  # fmt: skip
    return Path(path)
