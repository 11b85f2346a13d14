"""The torch Dataset adapter: items, label filtering, batched DataLoader reads, CG coordinates."""

from __future__ import annotations

import numpy as np
import torch

import cgkit.data
from cgkit.data.torch_dataset import StoreDataset
from cgkit.mapping import CGMap

torch.set_num_threads(1)


def _store(path, ethanol_atoms, rng, n=20):
    positions = ethanol_atoms.positions + rng.normal(scale=0.1, size=(n, 9, 3))
    homo = rng.normal(-7.0, 0.3, size=n)
    with cgkit.data.create(path) as store:
        system = store.add_system("ethanol", ethanol_atoms.numbers)
        system.append_frames(positions, labels={"homo": homo})
        system.mark_failed("homo", 4, "scf")
        system.mark_failed("homo", 11, "scf")
        cgmap = CGMap.from_groups(
            [[0, 1, 2, 3, 4, 5], [6, 7, 8]], weights="mass", masses=ethanol_atoms.get_masses()
        )
        system.add_map("two", cgmap)
    return positions, homo, cgmap


def test_dataset_items_skip_failed_labels(tmp_path, ethanol_atoms, rng):
    positions, homo, _ = _store(tmp_path / "e.h5", ethanol_atoms, rng)
    dataset = StoreDataset(tmp_path / "e.h5", labels=["homo"], dtype=torch.float64)
    assert len(dataset) == 18
    assert 4 not in dataset.frames and 11 not in dataset.frames
    item = dataset[4]  # dataset item 4 is frame 5
    assert int(item["index"]) == 5
    np.testing.assert_array_equal(item["positions"].numpy(), positions[5])
    assert float(item["homo"]) == homo[5]


def test_dataloader_batches_equal_items_and_cg_view(tmp_path, ethanol_atoms, rng):
    positions, homo, cgmap = _store(tmp_path / "e.zarr", ethanol_atoms, rng)
    dataset = StoreDataset(
        tmp_path / "e.zarr", labels=["homo"], map_name="two", frames=range(0, 20, 2)
    )
    assert dataset.frames.tolist() == [0, 2, 6, 8, 10, 12, 14, 16, 18]
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)
    seen = []
    for batch in loader:
        frames = batch["index"].numpy()
        seen.extend(frames.tolist())
        expected = cgmap.map_positions(positions[frames])
        np.testing.assert_allclose(batch["bead_positions"].numpy(), expected, rtol=1e-6)
        assert batch["bead_positions"].dtype == torch.float32
        np.testing.assert_allclose(batch["homo"].numpy(), homo[frames], rtol=1e-6)
    assert sorted(seen) == dataset.frames.tolist()
