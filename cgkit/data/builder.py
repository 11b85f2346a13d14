"""Resumable, crash-safe dataset builder: frames from a source, labels through any Executor.

A build has two phases, both resumable:

1. *Frames.* An :class:`MDSource` runs independent MD replicas (seeds ``seed + r``)
   through the executor and appends each replica's frames in replica order; a
   :class:`FramesSource` appends given frames. Frames are committed per append (see
   :mod:`cgkit.data.schema`), so a killed build keeps whole replicas only and re-runs
   the missing ones, which are deterministic given the seed.
2. *Labels.* Every frame whose labels are pending is labelled by the labelers in
   worker processes (one labeler instance per worker, built by the pool initializer);
   results are written in frame order as they complete; failures (SCF
   non-convergence, crashes in the QC code) are recorded per frame with their reason.

Re-running the same build on a partial store finishes it; the result equals an
uninterrupted build. A build with different inputs against an existing store is
refused unless ``force=True`` (which starts the store afresh).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import multiprocessing
import pickle
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgkit._version import __version__
from cgkit.qc.base import RetryPolicy
from cgkit.qc.worker import init_worker, label_chunk
from cgkit.sampling.sources import FramesSource, MDSource, OpenMMSource, frames_from_file
from cgkit.units import unit_of


class BuildError(RuntimeError):
    """A build could not proceed (the store keeps everything completed so far)."""


def _property_shape(prop: str, n_atoms: int) -> tuple[int, ...]:
    if prop == "forces":
        return (n_atoms, 3)
    if prop == "dipole":
        return (3,)
    return ()


# ---------------------------------------------------------------------- builder
@dataclass
class BuildSummary:
    """What a build did: frames, per-label ok/failed counts, seconds per phase."""

    path: str
    n_frames: int
    frames_added: int
    labelled: int
    failed: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    md_seconds: float = 0.0
    label_seconds: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"{self.path}: {self.n_frames} frames ({self.frames_added} new), "
            f"{self.labelled} labelled this run in {self.label_seconds:.1f} s "
            f"(frames {self.md_seconds:.1f} s)"
        ]
        for name, c in self.counts.items():
            lines.append(
                f"  {name:<12} ok {c['ok']:>6}  failed {c['failed']:>4}  pending {c['pending']}"
            )
        return "\n".join(lines)


class DatasetBuilder:
    """Build (or finish) a labelled store from a frame source, labelers and CG maps.

    Parameters
    ----------
    path : str or Path
        Target store (``.h5`` or ``.zarr``); created if absent, resumed if present.
    source : MDSource, OpenMMSource or FramesSource
        Where frames come from.
    labelers : sequence of labelers
        Picklable labelers (``labeler(atoms, attempt=0) -> dict``, ``properties``,
        ``method``, ``program``, ``program_version``); none makes a store of positions.
    maps : dict name -> CGMap, optional
        Stored with the system; each must map the source's atoms.
    system : str
        System name in the store.
    prefixes : sequence of str, optional
        Label-name prefix per labeler (e.g. ``"dft_"``).
    retry : RetryPolicy, optional
    executor : concurrent.futures.Executor, optional
        Where work runs (e.g. ``dask.distributed.Client(...).get_executor()``); default
        a process pool of ``n_workers`` (``fork`` start method where available) with one
        labeler per worker, restarted if a worker process dies. Not shut down here.
    n_workers : int
        Size of the default process pool.
    threads : int
        OpenMP/BLAS threads per worker.
    provenance : dict, optional
        Extra provenance (recipe text, host count, ...).
    force : bool
        Start afresh when the store was built from different inputs.
    progress : bool
        Show tqdm progress bars.
    chunk_size : int, optional
        Frames per task (default: about 8 tasks per worker, at most 32 frames).
    bonds : array_like of int, shape (K, 2), optional
        Covalent atom bonds stored with the system (recipes from SMILES give them).
    """

    def __init__(
        self,
        path,
        source,
        labelers: Sequence,
        maps: Mapping | None = None,
        system: str = "molecule",
        prefixes: Sequence[str] | None = None,
        retry: RetryPolicy | None = None,
        executor: Executor | None = None,
        n_workers: int = 1,
        threads: int = 1,
        provenance: Mapping | None = None,
        force: bool = False,
        progress: bool = True,
        chunk_size: int | None = None,
        bonds=None,
    ):
        self.path = Path(path)
        self.bonds = None if bonds is None else np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
        self.source = source
        self.labelers = list(labelers)
        self.maps = dict(maps or {})
        self.system = system
        self.prefixes = list(prefixes) if prefixes is not None else [""] * len(self.labelers)
        self.retry = retry or RetryPolicy()
        self.executor = executor
        self.n_workers = int(n_workers)
        self.threads = int(threads)
        self.provenance = dict(provenance or {})
        self.force = force
        self.progress = progress
        self.chunk_size = chunk_size
        if len(self.prefixes) != len(self.labelers):
            raise ValueError("give one prefix per labeler")
        n_atoms = len(source.numbers)
        for name, cgmap in self.maps.items():
            if int(cgmap.n_atoms) != n_atoms:
                raise ValueError(
                    f"map {name!r} is for {cgmap.n_atoms} atoms but the frames of system "
                    f"{system!r} have {n_atoms} atoms"
                )
        names = [
            p + q
            for p, lab in zip(self.prefixes, self.labelers, strict=True)
            for q in lab.properties
        ]
        if len(set(names)) != len(names):
            raise ValueError(f"labelers produce the same label names {names}; use prefixes")
        self._blobs = [pickle.dumps(lab) for lab in self.labelers]
        self._tokens = [hashlib.sha256(b).hexdigest()[:16] for b in self._blobs]

    @classmethod
    def from_recipe(cls, recipe, path, **kwargs) -> DatasetBuilder:
        """Builder for a :class:`cgkit.sampling.recipe.Recipe` (keyword arguments as above).

        The recipe text and seed go into the store's provenance.
        """
        from dataclasses import asdict

        atoms = recipe.start_structure()
        if recipe.openmm is not None:
            source = OpenMMSource(
                recipe.peptide_sequence, atoms, recipe.size, asdict(recipe.openmm),
                seed=recipe.seed,
            )  # fmt: skip
        elif recipe.md is not None:
            source = MDSource(
                atoms,
                recipe.size,
                asdict(recipe.md),
                seed=recipe.seed,
                charge=recipe.molecule.charge,
                multiplicity=recipe.multiplicity,
            )
        else:
            traj = recipe.trajectory
            source = frames_from_file(
                recipe.resolve(traj.path), traj.index, traj.system, limit=recipe.size
            )
            if len(source.numbers) != len(atoms) or np.any(source.numbers != atoms.numbers):
                raise ValueError(
                    f"recipe {recipe.name!r}: trajectory {traj.path} has atoms "
                    f"{len(source.numbers)} that do not match the [molecule] structure "
                    f"({atoms.get_chemical_formula()})"
                )
        provenance = {
            "recipe": recipe.text,
            "recipe_name": recipe.name,
            "recipe_fingerprint": recipe.fingerprint(),
            "seed": recipe.seed,
            **dict(kwargs.pop("provenance", None) or {}),
        }
        return cls(
            path,
            source,
            recipe.make_labelers(threads=kwargs.get("threads", 1)),
            maps=recipe.make_maps(atoms),
            bonds=recipe.atom_bonds(),
            system=recipe.name,
            prefixes=[spec.prefix for spec in recipe.labelers],
            retry=recipe.retry,
            provenance=provenance,
            **kwargs,
        )

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the store's content."""
        content = {
            "system": self.system,
            "source": self.source.describe(),
            "labelers": [lab.to_dict() for lab in self.labelers],
            "prefixes": self.prefixes,
            "maps": {k: v.to_dict() for k, v in sorted(self.maps.items())},
            "retry": self.retry.to_dict(),
        }
        text = json.dumps(content, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    # ------------------------------------------------------------------ run
    def build(self) -> BuildSummary:
        """Run (or resume) the build; returns a :class:`BuildSummary`."""
        import cgkit.data

        fingerprint = self.fingerprint()
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        if self.path.exists():
            try:
                with cgkit.data.open(self.path) as store:
                    stored = store.provenance.get("fingerprint")
            except cgkit.data.StoreError as exc:
                if not self.force:
                    raise BuildError(f"{exc}; use force=True (--force) to rebuild it") from exc
                stored = None
            if stored != fingerprint and not self.force:
                raise BuildError(
                    f"{self.path} was built from different inputs (fingerprint {str(stored)[:12]} "
                    f"vs {fingerprint[:12]}); use another output or force=True (--force) to rebuild"
                )
            store = (
                cgkit.data.open(self.path, "a")
                if stored == fingerprint
                else cgkit.data.create(self.path, self._provenance(fingerprint), overwrite=True)
            )
        else:
            store = cgkit.data.create(self.path, self._provenance(fingerprint))
        own_executor = self.executor is None
        self._executor = self.executor or self._default_executor()
        try:
            with store:
                # one record per run, written first: an interrupted run leaves finished=None
                run = {
                    "started": started,
                    "finished": None,
                    "executor": type(self._executor).__name__,
                    "workers": self.n_workers,
                    "hosts": self.provenance.get("hosts", 1 if own_executor else None),
                    "versions": _versions(),
                }
                runs = [*store.provenance.get("runs", []), run]
                store.update_provenance(runs=runs)
                system = self._system(store)
                t0 = time.perf_counter()
                added = self._make_frames(system)
                t1 = time.perf_counter()
                labelled = sum(self._label(system, k) for k in range(len(self.labelers)))
                t2 = time.perf_counter()
                counts = {name: system.label_counts(name) for name in self._label_names()}
                run.update(
                    finished=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                    frames_added=added,
                    labelled=labelled,
                )
                store.update_provenance(runs=runs, counts=counts)
                return BuildSummary(
                    path=str(self.path),
                    n_frames=system.n_frames,
                    frames_added=added,
                    labelled=labelled,
                    failed={k: v["failed"] for k, v in counts.items()},
                    counts=counts,
                    md_seconds=t1 - t0,
                    label_seconds=t2 - t1,
                )
        finally:
            if own_executor:
                self._executor.shutdown(wait=True, cancel_futures=True)

    def _provenance(self, fingerprint: str) -> dict:
        return {
            **self.provenance,
            "fingerprint": fingerprint,
            "versions": _versions(),
            "source": {k: v for k, v in self.source.describe().items() if k != "start_positions"},
            "labelers": [lab.to_dict() for lab in self.labelers],
            "retry": self.retry.to_dict(),
            "threads_per_worker": self.threads,
        }

    def _default_executor(self) -> Executor:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(
            max_workers=self.n_workers,
            mp_context=multiprocessing.get_context(method),
            initializer=init_worker,
            initargs=(dict(zip(self._tokens, self._blobs, strict=True)), self.threads),
        )

    def _system(self, store):
        if self.system in store:
            system = store[self.system]
            if system.n_atoms != len(self.source.numbers) or np.any(
                system.numbers != self.source.numbers
            ):
                raise BuildError(f"{self.path}: system {self.system!r} holds different atoms")
        else:
            system = store.add_system(
                self.system, self.source.numbers, masses=self.source.masses, bonds=self.bonds
            )
        for name, cgmap in self.maps.items():
            if name not in system.map_names:
                system.add_map(name, cgmap)
        for k, labeler in enumerate(self.labelers):
            for prop in labeler.properties:
                system.add_label(
                    self.prefixes[k] + prop,
                    unit=unit_of(prop),
                    method=labeler.method,
                    program=labeler.program,
                    program_version=labeler.program_version,
                    shape=_property_shape(prop, system.n_atoms),
                    per_atom=prop == "forces",
                )
        return system

    def _label_names(self) -> list[str]:
        return [
            p + q
            for p, lab in zip(self.prefixes, self.labelers, strict=True)
            for q in lab.properties
        ]

    def _make_frames(self, system) -> int:
        blocks = self.source.blocks()
        done = system.n_frames
        if done and done not in {start for start, _, _ in blocks} | {self.source.n_frames}:
            raise BuildError(f"{self.path}: {done} frames stored, not a whole number of blocks")
        todo = [b for b in blocks if b[0] >= done]
        if not todo:
            return 0
        if isinstance(self.source, FramesSource):
            system.append_frames(self.source.positions[done:], time=self.source.time)
            return self.source.n_frames - done
        src = self.source
        futures = {}
        for start, stop, seed in todo:
            function, args = src.block_call(stop - start, seed, self.threads)
            futures[self._executor.submit(function, *args)] = start
        ready: dict[int, tuple] = {}
        bar = _bar(len(todo), "MD replicas", "replica", self.progress)
        added = 0
        failure = None
        for future in as_completed(futures):
            try:
                ready[futures[future]] = future.result()
            except Exception as exc:  # keep appending the replicas before the failed one
                failure = failure or (futures[future], exc)
                continue
            while system.n_frames in ready:
                positions, times = ready.pop(system.n_frames)
                system.append_frames(positions, time=times)
                added += len(positions)
                bar.update(1)
        bar.close()
        if failure is not None:
            start, exc = failure
            raise BuildError(
                f"{self.path}: the MD replica of frames {start}.. failed "
                f"({type(exc).__name__}: {exc}); {system.n_frames} frames are saved, re-run "
                "the build to resume"
            ) from exc
        return added

    def _label(self, system, k: int) -> int:
        names = [self.prefixes[k] + p for p in self.labelers[k].properties]
        pending = np.zeros(system.n_frames, dtype=bool)
        for name in names:
            pending |= system.label_status(name) == 0
        frames = np.flatnonzero(pending)
        if len(frames) == 0:
            return 0
        size = self.chunk_size or int(np.clip(len(frames) // (8 * max(self.n_workers, 1)), 1, 32))
        chunks = [frames[i : i + size] for i in range(0, len(frames), size)]
        numbers = np.asarray(system.numbers)
        futures = {}
        for c, chunk in enumerate(chunks):
            positions = system.read_positions(chunk)
            futures[self._submit_chunk(k, numbers, positions)] = c
        bar = _bar(len(frames), f"labels {self.labelers[k].method}", "frame", self.progress)
        ready: dict[int, list] = {}
        state = {"next": 0, "failed": 0}

        def write_ready():
            while state["next"] in ready:
                results = ready.pop(state["next"])
                chunk = chunks[state["next"]]
                state["failed"] += self._write(system, names, labeler.properties, chunk, results)
                bar.update(len(results))
                bar.set_postfix(failed=state["failed"])
                state["next"] += 1

        labeler = self.labelers[k]
        broken = []
        for future in as_completed(futures):
            c = futures[future]
            try:
                ready[c] = future.result()
            except BrokenProcessPool:
                if self.executor is not None:  # not our pool: we cannot restart it
                    raise self._died(chunks[c]) from None
                broken.append(c)
                continue
            except Exception as exc:
                raise self._died(chunks[c], exc) from exc
            write_ready()
        for c in sorted(broken):  # a worker process died: find the frame that kills it
            ready[c] = [self._label_alone(k, numbers, system, i) for i in chunks[c]]
            write_ready()
        bar.close()
        return len(frames)

    def _submit_chunk(self, k: int, numbers, positions):
        return self._executor.submit(
            label_chunk, self._tokens[k], self._blobs[k], numbers, positions, self.retry
        )

    def _label_alone(self, k: int, numbers, system, frame: int) -> tuple:
        """Label one frame in a fresh pool; a frame that kills its worker is a failure."""
        if getattr(self._executor, "_broken", False):
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._default_executor()
        future = self._submit_chunk(k, numbers, system.read_positions([frame]))
        try:
            return future.result()[0]
        except BrokenProcessPool as exc:
            return None, f"worker process died while labelling this frame ({exc})"

    def _died(self, chunk, exc=None) -> BuildError:
        what = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return BuildError(
            f"{self.path}: a worker failed while labelling frames {chunk[0]}..{chunk[-1]}"
            f"{what}; completed frames are saved, re-run the build to resume"
        )

    @staticmethod
    def _write(system, names, properties, chunk, results) -> int:
        ok = [i for i, (values, _) in enumerate(results) if values is not None]
        for name, prop in zip(names, properties, strict=True):
            if ok:
                values = np.stack([np.asarray(results[i][0][prop]) for i in ok])
                system.write_labels(name, chunk[ok], values)
        failed = [i for i, (values, _) in enumerate(results) if values is None]
        for i in failed:
            for name in names:
                system.mark_failed(name, int(chunk[i]), results[i][1])
        return len(failed)


def _bar(total: int, desc: str, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, smoothing=0.1)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"cgkit": __version__}
    for package in ("tblite", "pyscf", "ase", "rdkit", "numpy", "h5py", "zarr"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
