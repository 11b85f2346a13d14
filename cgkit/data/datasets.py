"""Importers of the two shared data sets (bithiophene DFT labels, sPS AA/CG snapshot pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgkit.data.importers import from_arrays


def import_bithiophene_dft(
    directory: str | Path,
    out: str | Path,
    n_frames: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Import the shared propyl-bithiophene DFT set (train.npz + its 7 CG maps).

    Parameters
    ----------
    directory : str or Path
        Folder with ``train.npz`` and ``maps/N_bead.map`` (see its README).
    out : str or Path
        New store; system ``"bithiophene"`` with labels homo, lumo, energy (eV;
        ORCA 4.2.1 wB97X-D3/def2-SVP) and maps ``"4_bead"`` ... ``"16_bead"``.
    n_frames : int, optional
        Import only the first ``n_frames`` frames.
    """
    from cgkit.mapping import CGMap

    directory = Path(directory)
    with np.load(directory / "train.npz") as data:
        stop = None if n_frames is None else int(n_frames)
        symbols = data["symbols"]
        positions = data["positions"][:stop]
        labels = {
            "homo": data["homo_eV"][:stop],
            "lumo": data["lumo_eV"][:stop],
            "energy": data["energy_eV"][:stop],
        }
    maps = {
        path.stem: CGMap.read(path)
        for path in sorted(
            directory.glob("maps/*_bead.map"), key=lambda p: int(p.stem.split("_")[0])
        )
    }
    dft = {"method": "wB97X-D3/def2-SVP", "program": "ORCA", "program_version": "4.2.1"}
    return from_arrays(
        out,
        symbols,
        positions,
        labels=labels,
        label_attrs={name: dft for name in labels},
        maps=maps,
        system="bithiophene",
        provenance={
            "source": str(directory),
            "reference": "Maier & Jackson, J. Chem. Phys. 157, 174102 (2022); "
            "TheJacksonLab/DKL_ECG",
            "n_frames": len(positions),
        },
        overwrite=overwrite,
    )


def _snapshot_key(path: Path) -> tuple[str, int]:
    return (path.parent.parent.name, int(path.stem) if path.stem.isdigit() else -1)


def import_sps_melt(directory: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Import the 14 shared sPS all-atom / CG snapshot pairs.

    The store gets system ``"aa"`` (5832 atoms, bonds from ``aa_top/PS1.itp``, cell,
    velocities label in Å/fs, map ``"fritz"`` =
    :func:`cgkit.mapping.polystyrene.polystyrene_fritz_map` for 36 chains) and system
    ``"cg"`` (720 beads as dummy atoms ``X`` with the map's bead masses): frame ``k`` of
    both systems is the same snapshot. ``provenance["snapshots"]`` lists the source files.

    Parameters
    ----------
    directory : str or Path
        The ``sps_melt`` folder (see its README).
    out : str or Path
        New ``*.h5`` / ``*.zarr`` store.
    """
    from ase import units
    from ase.io import read

    from cgkit.data.store import create
    from cgkit.mapping.gromacs import read_itp
    from cgkit.mapping.polystyrene import polystyrene_fritz_map

    directory = Path(directory)
    aa_paths = sorted(directory.glob("reference_snapshots/*/aa/*.gro"), key=_snapshot_key)
    if not aa_paths:
        raise FileNotFoundError(f"{directory}: no reference_snapshots/*/aa/*.gro files")
    pairs = []
    for aa_path in aa_paths:
        cg_path = aa_path.parent.parent / "cg" / aa_path.name
        if not cg_path.exists():
            raise FileNotFoundError(f"{cg_path}: CG partner of {aa_path} is missing")
        pairs.append((aa_path, cg_path))
    aa_frames = [read(aa, format="gromacs") for aa, _ in pairs]
    cg_frames = [read(cg, format="gromacs") for _, cg in pairs]
    itp = directory / "aa_top" / "PS1.itp"
    molecule = read_itp(itp)
    n_chains, remainder = divmod(len(aa_frames[0]), len(molecule.names))
    if remainder:
        raise ValueError(
            f"{pairs[0][0]}: {len(aa_frames[0])} atoms is not a whole number of "
            f"{len(molecule.names)}-atom chains of {itp}"
        )
    cgmap = polystyrene_fritz_map(itp, directory / "mapping" / "PS1.map", n_chains=n_chains)
    bonds = np.concatenate([molecule.bonds + k * len(molecule.names) for k in range(n_chains)])
    provenance = {
        "importer": "import_sps_melt",
        "source": str(directory),
        "reference": "Stieffenhofer, Wand & Bereau, Mach. Learn.: Sci. Technol. 1, 045014 "
        "(2020); mstieffe/DBM data/",
        "snapshots": [[str(aa), str(cg)] for aa, cg in pairs],
    }
    with create(out, provenance=provenance, overwrite=overwrite) as store:
        for name, frames, masses, system_bonds in (
            ("aa", aa_frames, np.tile(molecule.masses, n_chains), bonds),
            ("cg", cg_frames, cgmap.bead_masses, None),
        ):
            first = frames[0]
            numbers = first.numbers if name == "aa" else np.zeros(len(first), dtype=int)
            system = store.add_system(name, numbers, masses=masses, bonds=system_bonds)
            for k, atoms in enumerate(frames):
                if len(atoms) != len(first):
                    raise ValueError(
                        f"{pairs[k][0 if name == 'aa' else 1]}: {len(atoms)} atoms, expected "
                        f"{len(first)}"
                    )
            labels = {}
            if name == "aa":
                velocities = np.stack([a.get_velocities() * units.fs for a in frames])
                system.add_label("velocities", shape=velocities.shape[1:], program="GROMACS")
                labels["velocities"] = velocities
                system.add_map("fritz", cgmap)
            system.append_frames(
                np.stack([a.positions for a in frames]),
                cell=np.stack([a.cell.array for a in frames]),
                pbc=np.stack([a.pbc for a in frames]),
                labels=labels,
            )
    return Path(out)
