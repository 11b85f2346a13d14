"""DBM inference speed: float32 vs the bfloat16 / channels_last generator, same run.

Part 1 (always; random weights, no data): one generator forward pass on the sPS shapes
(23 channels, 8^3 voxels, width 16, 36 beads x 8 candidates = 288 environments) as the
plain float32 module, wrapped in float32 ``channels_last_3d``, and under bfloat16 autocast.
Part 2 (with ``--model`` and the shared sPS data): backmapping held-out snapshot 0 with
``inference_dtype="float32"`` and ``"bfloat16"``: seconds per frame, their ratio and the
close contacts of each (quality check). Ratios are against the float32 figures measured in
the same run.

    OMP_NUM_THREADS=2 python benchmarks/dbm_inference_speed.py --threads 2 \
        --model dbm.pt --data ../shared/data/sps_melt
"""

from __future__ import annotations

import argparse
import time
import timeit
from pathlib import Path

import torch


def best_time(fn, repeats: int) -> float:
    """Best wall time (s) of ``repeats`` calls after one warm-up call."""
    fn()
    return min(timeit.repeat(fn, number=1, repeat=repeats))


def generator_forward(args) -> None:
    from cgkit.backmap.networks import Generator, InferenceGenerator

    torch.manual_seed(0)
    n_env, n_channels, n_types = 288, 23, 4
    generator = Generator(n_channels, n_types, noise_dim=32, width=16).eval()
    environment = torch.rand(n_env, n_channels, 8, 8, 8)
    labels = torch.nn.functional.one_hot(torch.randint(0, n_types, (n_env,)), n_types).float()
    noise = torch.randn(n_env, 32)
    inputs = (environment, labels, noise)
    with torch.no_grad():
        reference = generator(*inputs)
        plain = best_time(lambda: generator(*inputs), args.repeats)
        rows = [("float32 (plain module)", plain, 0.0)]
        for name, dtype in (("float32 channels_last", torch.float32),
                            ("bfloat16 channels_last", torch.bfloat16)):  # fmt: skip
            wrapped = InferenceGenerator(generator, dtype)
            seconds = best_time(lambda w=wrapped: w(*inputs), args.repeats)
            deviation = float((wrapped(*inputs) - reference).abs().max() / reference.max())
            rows.append((name, seconds, deviation))
        generator.to(memory_format=torch.contiguous_format)
    print(f"generator forward, {n_env} environments, {torch.get_num_threads()} thread(s):")
    print(f"  {'variant':<24} {'ms':>8} {'speed-up':>9} {'max |d density| / peak':>24}")
    for name, seconds, deviation in rows:
        print(f"  {name:<24} {1e3 * seconds:8.1f} {plain / seconds:9.2f} {deviation:24.1e}")


def frame_backmapping(args) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from backmap_sps import load_system, snapshot_pairs

    from cgkit.backmap import DBMBackmapper
    from cgkit.backmap.metrics import close_contacts

    forcefield, topology, _cgmap, _owner = load_system(args.data)
    _train, test = snapshot_pairs(args.data)
    _aa, cg = test[0]
    model = DBMBackmapper.load(args.model)
    model.config.n_candidates, model.config.n_gibbs = args.n_candidates, args.n_gibbs
    model.config.n_repair = args.n_repair
    results = {}
    for dtype in ("float32", "bfloat16"):
        model.config.inference_dtype = dtype
        start = time.perf_counter()
        atoms = model.transform(cg, seed=0)
        results[dtype] = (time.perf_counter() - start, close_contacts(atoms, topology, forcefield))
    base = results["float32"][0]
    print(f"backmapping held-out sPS frame 0 ({args.n_gibbs} sweeps x {args.n_candidates} "
          f"candidates, up to {args.n_repair} repair sweeps, {torch.get_num_threads()} "
          "thread(s)):")  # fmt: skip
    for dtype, (seconds, contacts) in results.items():
        print(f"  {dtype:<9} {seconds:7.1f} s/frame  speed-up {base / seconds:5.2f}  "
              f"close contacts {contacts}")  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, default=None, help="trained DBM (.pt) for part 2")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sps_melt"))
    parser.add_argument("--n-candidates", type=int, default=8)
    parser.add_argument("--n-repair", type=int, default=8)
    parser.add_argument("--n-gibbs", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator_forward(args)
    if args.model is None:
        print("part 2 skipped: no --model given")
    elif not (args.data / "reference_snapshots").is_dir():
        print(f"part 2 skipped: {args.data} has no reference_snapshots")
    else:
        frame_backmapping(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
