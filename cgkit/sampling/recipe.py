"""Dataset recipes: a TOML file saying which molecule to sample, how to label it, which maps.

Schema (every table but ``[molecule]`` optional; paths relative to the recipe file)::

    name = "bithiophene"          # also the system name in the store
    description = "..."
    size = 2000                   # frames
    seed = 2026                   # MD seeds are seed, seed + 1, ... per replica

    [molecule]
    smiles = "c1ccsc1-c1cccs1"    # or: structure = "start.xyz"
                                  # or: sequence = "ACE-ALA-NME" (capped peptide, [openmm])
    charge = 0
    multiplicity = 1              # default: 1 + radical electrons of the SMILES

    [md]                          # frame source: canonical MD with GFN-xTB forces
    method = "GFN2-xTB"
    temperature = 300.0           # K
    timestep = 0.5                # fs
    interval = 20                 # steps between frames (decorrelation interval)
    equilibration = 2000          # steps discarded per replica
    thermostat = "langevin"       # or "bussi"
    replicas = 2                  # independent trajectories (run in parallel)

    [openmm]                      # alternative frame source: peptide MD with OpenMM
    forcefield = ["amber14-all.xml"]   # vacuum, no cutoff, H-bond constraints
    temperature = 300.0           # K
    timestep = 2.0                # fs (LangevinMiddle, friction 1/ps)
    interval = 500                # steps between frames
    equilibration = 10000         # steps discarded per replica
    replicas = 1

    [trajectory]                  # alternative frame source: a file ASE reads, or a store
    path = "frames.xyz"
    index = ":"

    [[labelers]]                  # any number (none: positions only); the labeler's parameters
    kind = "xtb"                  # or "pyscf"
    method = "GFN2-xTB"
    prefix = ""                   # prepended to stored label names ("dft_" -> dft_homo)

    [retry]
    max_attempts = 2
    retry_on = ["SCFConvergenceError"]

    [maps.2bead]                  # CGMap.from_groups
    groups = [[0, 1, 2], [3, 4, 5]]   # or: smarts = ["c1ccsc1"] (hydrogens follow their atom)
    weights = "mass"              # or "center"

    [maps.backbone]               # decimation: one bead per listed atom, others dropped
    atoms = [1, 4, 6, 14, 16]
    bead_names = ["C", "N", "CA", "C", "N"]
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from cgkit.qc.base import RetryPolicy
from cgkit.sampling.md import THERMOSTATS


class RecipeError(ValueError):
    """A recipe file is invalid; the message names the file and the key at fault."""


@dataclass(frozen=True)
class MoleculeSpec:
    """Starting structure and electronic state."""

    smiles: str | None = None
    structure: str | None = None
    sequence: str | None = None
    charge: int = 0
    multiplicity: int | None = None
    conformer_seed: int = 0


@dataclass(frozen=True)
class MDSpec:
    """Canonical MD frame source (see :func:`cgkit.sampling.run_md`)."""

    method: str = "GFN2-xTB"
    temperature: float = 300.0
    timestep: float = 0.5
    interval: int = 20
    equilibration: int = 1000
    thermostat: str = "langevin"
    coupling: float | None = None
    replicas: int = 1


@dataclass(frozen=True)
class OpenMMSpec:
    """Peptide MD with OpenMM (:func:`cgkit.sampling.openmm_md.run_openmm_md`): force-field
    files, temperature (K), time step (fs), steps between frames and of equilibration."""

    forcefield: tuple[str, ...] = ("amber14-all.xml",)
    temperature: float = 300.0
    timestep: float = 2.0
    interval: int = 500
    equilibration: int = 10000
    friction: float = 1.0
    replicas: int = 1


@dataclass(frozen=True)
class TrajectorySpec:
    """Existing frames: any file ASE reads, or a cgkit store (``.h5``/``.zarr``)."""

    path: str
    index: str = ":"
    system: str | None = None


@dataclass(frozen=True)
class LabelerSpec:
    """One labeler: its ``to_dict()``-style parameters and a label-name prefix."""

    config: dict
    prefix: str = ""


@dataclass(frozen=True)
class MapSpec:
    """One CG map, built with :meth:`cgkit.mapping.CGMap.from_groups`."""

    name: str
    groups: tuple[tuple[int, ...], ...] | None = None
    smarts: tuple[str, ...] | None = None
    atoms: tuple[int, ...] | None = None
    weights: str = "mass"
    bead_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Recipe:
    """A parsed dataset recipe; build it with :class:`cgkit.data.builder.DatasetBuilder`."""

    name: str
    size: int
    molecule: MoleculeSpec
    labelers: tuple[LabelerSpec, ...]
    seed: int = 0
    description: str = ""
    md: MDSpec | None = None
    openmm: OpenMMSpec | None = None
    trajectory: TrajectorySpec | None = None
    maps: tuple[MapSpec, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    base_dir: str = "."
    text: str = ""

    # ------------------------------------------------------------------ parsing
    @classmethod
    def read(cls, path: str | Path) -> Recipe:
        """Parse a recipe TOML file (see the module docstring for the schema)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"recipe {path} does not exist")
        text = path.read_text()
        return cls.from_text(text, base_dir=path.resolve().parent, source=str(path))

    @classmethod
    def from_text(cls, text: str, base_dir: str | Path = ".", source: str = "<recipe>") -> Recipe:
        """Parse recipe TOML ``text``; relative paths resolve against ``base_dir``."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RecipeError(f"{source}: invalid TOML: {exc}") from exc
        where = source
        allowed = {f.name for f in fields(cls)} - {"base_dir", "text"}
        _check_keys(data, allowed, where)
        for key in ("name", "size", "molecule"):
            if key not in data:
                raise RecipeError(f"{where}: missing required key {key!r}")
        molecule = _build(MoleculeSpec, data["molecule"], f"{where} [molecule]")
        given = [k for k in ("smiles", "structure", "sequence") if getattr(molecule, k) is not None]
        if len(given) != 1:
            raise RecipeError(
                f"{where} [molecule]: give exactly one of 'smiles', 'structure' or 'sequence'"
            )
        if molecule.sequence is not None:
            _sequence_codes(molecule.sequence, f"{where} [molecule]")
        md = _build(MDSpec, data["md"], f"{where} [md]") if "md" in data else None
        openmm = (
            _build(OpenMMSpec, data["openmm"], f"{where} [openmm]") if "openmm" in data else None
        )
        trajectory = (
            _build(TrajectorySpec, data["trajectory"], f"{where} [trajectory]")
            if "trajectory" in data
            else None
        )
        if sum(x is not None for x in (md, openmm, trajectory)) != 1:
            raise RecipeError(
                f"{where}: give exactly one frame source, [md], [openmm] or [trajectory]"
            )
        if openmm is not None:
            if molecule.sequence is None:
                raise RecipeError(f"{where} [openmm]: needs a peptide [molecule] sequence")
            if (
                openmm.replicas < 1 or openmm.interval < 1 or openmm.timestep <= 0
                or openmm.temperature <= 0 or openmm.equilibration < 0
            ):  # fmt: skip
                raise RecipeError(
                    f"{where} [openmm]: replicas, interval, timestep, temperature > 0 "
                    "and equilibration >= 0"
                )
        if md is not None:
            if md.thermostat not in THERMOSTATS:
                raise RecipeError(
                    f"{where} [md]: thermostat {md.thermostat!r} is not one of {THERMOSTATS}"
                )
            if md.replicas < 1 or md.interval < 1 or md.timestep <= 0 or md.temperature <= 0:
                raise RecipeError(f"{where} [md]: replicas, interval, timestep, temperature > 0")
        labelers = []
        if not isinstance(data.get("labelers", []), list):
            raise RecipeError(f"{where}: 'labelers' must be an array of tables")
        for i, table in enumerate(data.get("labelers", [])):
            table = dict(table)
            prefix = str(table.pop("prefix", ""))
            if table.get("kind") not in ("xtb", "pyscf"):
                raise RecipeError(
                    f"{where} labelers[{i}]: kind must be 'xtb' or 'pyscf', "
                    f"got {table.get('kind')!r}"
                )
            labelers.append(LabelerSpec(config=table, prefix=prefix))
        maps = []
        for name, table in data.get("maps", {}).items():
            spec = _build(MapSpec, {"name": name, **table}, f"{where} [maps.{name}]")
            if sum(x is not None for x in (spec.groups, spec.smarts, spec.atoms)) != 1:
                raise RecipeError(
                    f"{where} [maps.{name}]: give exactly one of 'groups', 'smarts' or 'atoms'"
                )
            if spec.smarts is not None and molecule.smiles is None:
                raise RecipeError(f"{where} [maps.{name}]: 'smarts' groups need [molecule] smiles")
            maps.append(spec)
        retry = data.get("retry", {})
        _check_keys(retry, {"max_attempts", "retry_on"}, f"{where} [retry]")
        size = data["size"]
        if not isinstance(size, int) or size < 1:
            raise RecipeError(f"{where}: size must be a positive integer, got {size!r}")
        return cls(
            name=str(data["name"]),
            size=size,
            seed=int(data.get("seed", 0)),
            description=str(data.get("description", "")),
            molecule=molecule,
            md=md,
            openmm=openmm,
            trajectory=trajectory,
            labelers=tuple(labelers),
            maps=tuple(maps),
            retry=RetryPolicy(**retry),
            base_dir=str(base_dir),
            text=text,
        )

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """JSON-able content (without the source text and directory)."""
        d = asdict(self)
        d.pop("text")
        d.pop("base_dir")
        d["retry"] = self.retry.to_dict()
        return d

    def resized(self, size: int, equilibration: int | None = None) -> Recipe:
        """A copy with ``size`` frames and, if given, ``equilibration`` steps per replica.

        Recipes are immutable; this makes the smaller variants of quick runs and tutorials
        without editing the file. ``equilibration`` applies to the [md] or [openmm] source.
        """
        if equilibration is None:
            return replace(self, size=int(size))
        if self.md is not None:
            return replace(self, size=int(size), md=replace(self.md, equilibration=equilibration))
        if self.openmm is not None:
            source = replace(self.openmm, equilibration=equilibration)
            return replace(self, size=int(size), openmm=source)
        raise RecipeError(f"recipe {self.name!r}: a [trajectory] source has no equilibration")

    def fingerprint(self) -> str:
        """SHA-256 of the parsed content: equal for recipes that build the same store."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    def resolve(self, path: str) -> Path:
        """``path`` relative to the recipe's directory."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    # ------------------------------------------------------------------ parts
    @property
    def multiplicity(self) -> int:
        """Spin multiplicity: given, else from the SMILES radicals, else 1."""
        if self.molecule.multiplicity is not None:
            return int(self.molecule.multiplicity)
        if self.molecule.smiles is not None:
            from cgkit.sampling.structures import smiles_multiplicity

            return smiles_multiplicity(self.molecule.smiles)
        return 1

    @property
    def peptide_sequence(self) -> str | None:
        """One-letter residue codes of a ``sequence`` molecule (``"ACE-ALA-NME"`` -> ``"A"``)."""
        if self.molecule.sequence is None:
            return None
        return _sequence_codes(self.molecule.sequence, f"recipe {self.name!r} [molecule]")

    def peptide(self):
        """The capped peptide (:class:`cgkit.sampling.openmm_md.PeptideStructure`) of a
        ``sequence`` molecule, built with RDKit (``conformer_seed``)."""
        from cgkit.sampling.openmm_md import capped_peptide

        if self.molecule.sequence is None:
            raise RecipeError(f"recipe {self.name!r}: [molecule] has no peptide sequence")
        return capped_peptide(self.peptide_sequence, seed=self.molecule.conformer_seed)

    def start_structure(self):
        """The starting :class:`ase.Atoms` (SMILES or sequence embedding, or structure file)."""
        from cgkit.sampling.structures import from_smiles, read_structure

        if self.molecule.sequence is not None:
            from ase import Atoms

            structure = self.peptide()
            return Atoms(symbols=list(structure.symbols), positions=structure.positions)
        if self.molecule.smiles is not None:
            return from_smiles(self.molecule.smiles, seed=self.molecule.conformer_seed)
        return read_structure(self.resolve(self.molecule.structure))

    def make_labelers(self, threads: int = 1) -> list:
        """Labeler objects; the molecule's charge and multiplicity and ``threads`` are defaults."""
        from cgkit.qc.base import labeler_from_dict

        out = []
        for spec in self.labelers:
            config = {
                "charge": self.molecule.charge,
                "multiplicity": self.multiplicity,
                "threads": threads,
            }
            config.update(spec.config)
            try:
                out.append(labeler_from_dict(config))
            except TypeError as exc:
                raise RecipeError(f"recipe {self.name!r}: labeler {spec.config}: {exc}") from exc
        return out

    def atom_bonds(self):
        """Covalent bonds (K, 2) of the molecule in its atom order; None for structure files.

        SMILES recipes take them from RDKit (the atom order of :meth:`start_structure`), so
        their maps carry bead bonds, angles and dihedrals (what IBI needs).
        """
        if self.molecule.smiles is None:
            return None
        from cgkit.sampling.structures import smiles_bonds

        return smiles_bonds(self.molecule.smiles)

    def make_maps(self, atoms) -> dict:
        """CG maps by name for the atoms of ``atoms`` (ase.Atoms of the molecule)."""
        from cgkit.mapping import CGMap

        maps = {}
        atom_bonds = self.atom_bonds()
        for spec in self.maps:
            if spec.atoms is not None:
                maps[spec.name] = self._decimation_map(spec, atoms)
                continue
            groups = spec.groups if spec.groups is not None else self._smarts_groups(spec)
            try:
                maps[spec.name] = CGMap.from_groups(
                    [list(g) for g in groups],
                    weights=spec.weights,
                    masses=atoms.get_masses(),
                    bead_names=spec.bead_names,
                    atom_bonds=atom_bonds,
                )
            except ValueError as exc:
                raise RecipeError(f"recipe {self.name!r} map {spec.name!r}: {exc}") from exc
        return maps

    def _decimation_map(self, spec: MapSpec, atoms):
        from cgkit.mapping import CGMap

        try:
            kept = CGMap.decimation(spec.atoms, len(atoms), masses=atoms.get_masses())
            if spec.bead_names is None:
                return kept
            return CGMap(
                kept.weights, masses=atoms.get_masses(), bead_names=spec.bead_names,
                symbols=atoms.get_chemical_symbols(), allow_unmapped=True,
            )  # fmt: skip
        except ValueError as exc:
            raise RecipeError(f"recipe {self.name!r} map {spec.name!r}: {exc}") from exc

    def _smarts_groups(self, spec: MapSpec) -> list[list[int]]:
        from rdkit import Chem

        mol = Chem.AddHs(Chem.MolFromSmiles(self.molecule.smiles))
        groups = []
        for pattern in spec.smarts:
            query = Chem.MolFromSmarts(pattern)
            if query is None:
                raise RecipeError(f"recipe {self.name!r} map {spec.name!r}: bad SMARTS {pattern!r}")
            matches = mol.GetSubstructMatches(query)
            if not matches:
                raise RecipeError(
                    f"recipe {self.name!r} map {spec.name!r}: SMARTS {pattern!r} matches nothing"
                )
            for match in matches:
                hydrogens = [
                    n.GetIdx()
                    for i in match
                    for n in mol.GetAtomWithIdx(i).GetNeighbors()
                    if n.GetAtomicNum() == 1 and n.GetIdx() not in match
                ]
                groups.append(sorted(set(match) | set(hydrogens)))
        return groups


def _sequence_codes(sequence: str, where: str) -> str:
    """``"ACE-ALA-GLY-NME"`` -> ``"AG"``: the residues between an ACE and an NME cap."""
    from cgkit.sampling.openmm_md import RESIDUES

    codes = {name: code for code, name in RESIDUES.items()}
    names = [part.strip().upper() for part in str(sequence).split("-")]
    if len(names) < 3 or names[0] != "ACE" or names[-1] != "NME":
        raise RecipeError(
            f"{where}: sequence {sequence!r} must read ACE-<residues>-NME, e.g. 'ACE-ALA-NME'"
        )
    unknown = [n for n in names[1:-1] if n not in codes]
    if unknown:
        raise RecipeError(f"{where}: sequence {sequence!r}: unknown residue name(s) {unknown}")
    return "".join(codes[n] for n in names[1:-1])


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise RecipeError(f"{where}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _build(cls, table: dict, where: str):
    _check_keys(table, {f.name for f in fields(cls)}, where)
    values = {}
    for key, value in table.items():
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise RecipeError(f"{where}: {exc}") from exc
