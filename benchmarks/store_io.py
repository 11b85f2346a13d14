"""Store I/O benchmark: cgkit.data vs raw h5py / zarr on the same arrays, in one run.

Writes F frames x N atoms (positions float64 + one scalar label with its status) appended
in chunks, through the cgkit store and through bare h5py / zarr resizable datasets of the
same chunk shapes, and reports write throughput (MB/s of array data) and the time of a
batched random read (unsorted, with repeats) of positions and label values. Goal: the store
reaches >= 50% of the raw write rate.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/store_io.py [--frames 100000] [--atoms 34]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import cgkit.data
from cgkit.data._backend import frame_chunks


def _arrays(n_frames: int, n_atoms: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    positions = rng.normal(scale=3.0, size=(n_frames, n_atoms, 3))
    homo = rng.normal(-8.0, 0.2, size=n_frames)
    return positions, homo


def write_store(path: Path, positions, homo, chunk: int) -> float:
    start = time.perf_counter()
    with cgkit.data.create(path, provenance={"benchmark": "store_io"}) as store:
        system = store.add_system("bench", np.full(positions.shape[1], 6))
        system.add_label("homo")
        for first in range(0, len(positions), chunk):
            system.append_frames(
                positions[first : first + chunk], labels={"homo": homo[first : first + chunk]}
            )
    return time.perf_counter() - start


def write_raw_h5(path: Path, positions, homo, chunk: int) -> float:
    import h5py

    start = time.perf_counter()
    with h5py.File(path, "w") as handle:
        row = positions.shape[1:]
        datasets = {
            "positions": handle.create_dataset(
                "positions",
                shape=(0, *row),
                maxshape=(None, *row),
                dtype="f8",
                chunks=frame_chunks(row, np.float64),
            ),
            "homo": handle.create_dataset(
                "homo",
                shape=(0,),
                maxshape=(None,),
                dtype="f8",
                chunks=frame_chunks((), np.float64),
            ),
            "status": handle.create_dataset(
                "status",
                shape=(0,),
                maxshape=(None,),
                dtype="i1",
                chunks=frame_chunks((), np.int8),
            ),
        }
        for first in range(0, len(positions), chunk):
            stop = min(len(positions), first + chunk)
            block = {
                "positions": positions[first:stop],
                "homo": homo[first:stop],
                "status": np.ones(stop - first, np.int8),
            }
            for name, dataset in datasets.items():
                dataset.resize(stop, axis=0)
                dataset[first:stop] = block[name]
    return time.perf_counter() - start


def write_raw_zarr(path: Path, positions, homo, chunk: int) -> float:
    import zarr

    start = time.perf_counter()
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    row = positions.shape[1:]
    arrays = {
        "positions": group.create_array(
            "positions", shape=(0, *row), dtype="f8", chunks=frame_chunks(row, np.float64)
        ),
        "homo": group.create_array(
            "homo", shape=(0,), dtype="f8", chunks=frame_chunks((), np.float64)
        ),
        "status": group.create_array(
            "status", shape=(0,), dtype="i1", chunks=frame_chunks((), np.int8)
        ),
    }
    for first in range(0, len(positions), chunk):
        stop = min(len(positions), first + chunk)
        block = {
            "positions": positions[first:stop],
            "homo": homo[first:stop],
            "status": np.ones(stop - first, np.int8),
        }
        for name, array in arrays.items():
            array.resize((stop, *array.shape[1:]))
            array[first:stop] = block[name]
    return time.perf_counter() - start


def read_store(path: Path, indices) -> tuple[float, np.ndarray]:
    with cgkit.data.open(path) as store:
        system = store["bench"]
        start = time.perf_counter()
        positions = system.read_positions(indices)
        system.read_labels("homo", indices)
        return time.perf_counter() - start, positions


def read_raw_h5(path: Path, indices) -> tuple[float, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as handle:
        start = time.perf_counter()
        unique, inverse = np.unique(indices, return_inverse=True)
        positions = handle["positions"][unique][inverse]
        handle["homo"][unique][inverse]
        return time.perf_counter() - start, positions


def read_raw_zarr(path: Path, indices) -> tuple[float, np.ndarray]:
    import zarr

    group = zarr.open_group(str(path), mode="r")
    start = time.perf_counter()
    unique, inverse = np.unique(indices, return_inverse=True)
    positions = group["positions"].oindex[unique][inverse]
    group["homo"].oindex[unique][inverse]
    return time.perf_counter() - start, positions


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--atoms", type=int, default=34)
    parser.add_argument("--chunk", type=int, default=1000, help="frames per append")
    parser.add_argument("--reads", type=int, default=10_000, help="frames per random read")
    parser.add_argument("--batch", type=int, default=256, help="mini-batch size for reads")
    parser.add_argument("--repeats", type=int, default=5, help="best of N for each timing")
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args(argv)

    positions, homo = _arrays(args.frames, args.atoms)
    megabytes = (positions.nbytes + homo.nbytes + homo.size) / 1e6
    rng = np.random.default_rng(1)
    big_read = rng.integers(0, args.frames, size=args.reads)  # unsorted, with repeats
    batches = [rng.integers(0, args.frames, size=args.batch) for _ in range(20)]
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="cgkit-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(
        f"store_io: {args.frames} frames x {args.atoms} atoms (positions f8 + 1 label + status "
        f"= {megabytes:.1f} MB), appended {args.chunk} frames at a time; best of {args.repeats}"
    )
    print(f"scratch: {scratch}")
    header = (
        f"{'backend':<6} {'writer':<7} {'write s':>8} {'MB/s':>7} {'% raw':>6} "
        f"{'read ' + str(args.reads) + ' s':>12} {'batch ' + str(args.batch) + ' ms':>13}"
    )
    print(header)
    print("-" * len(header))
    try:
        for kind, raw_write, raw_read in (
            ("h5", write_raw_h5, read_raw_h5),
            ("zarr", write_raw_zarr, read_raw_zarr),
        ):
            writers = {
                "raw": (raw_write, raw_read),
                "cgkit": (write_store, read_store),
            }
            paths = {writer: scratch / f"{writer}.{kind}" for writer in writers}
            write_times = {writer: [] for writer in writers}
            # raw and cgkit writes alternate so both see the same machine load
            for _ in range(args.repeats):
                for writer, (write, _read) in writers.items():
                    path = paths[writer]
                    if path.is_dir():
                        shutil.rmtree(path)
                    elif path.exists():
                        path.unlink()
                    write_times[writer].append(write(path, positions, homo, args.chunk))
            raw_s = min(write_times["raw"])
            for writer, (_write, read) in writers.items():
                path = paths[writer]
                write_s = min(write_times[writer])
                read_s, read_positions = min(
                    (read(path, big_read) for _ in range(args.repeats)), key=lambda r: r[0]
                )
                assert np.array_equal(read_positions, positions[big_read]), (kind, writer)
                batch_s = min(
                    sum(read(path, b)[0] for b in batches) / len(batches)
                    for _ in range(args.repeats)
                )
                print(
                    f"{kind:<6} {writer:<7} {write_s:8.2f} {megabytes / write_s:7.1f} "
                    f"{100.0 * raw_s / write_s:5.0f}% {read_s:12.3f} {1e3 * batch_s:13.2f}"
                )
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
