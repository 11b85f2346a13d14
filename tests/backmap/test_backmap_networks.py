"""The DBM networks: shapes, normalisation and the inference wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from cgkit.backmap.dbm import DBMBackmapper, DBMConfig
from cgkit.backmap.networks import Critic, Generator, InferenceGenerator, inference_dtype


@pytest.fixture
def generator_inputs():
    torch.manual_seed(0)
    generator = Generator(in_channels=5, n_atom_types=3, noise_dim=4, width=4).eval()
    environment = torch.rand(6, 5, 8, 8, 8)
    labels = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    return generator, (environment, labels, torch.randn(6, 4))


def test_generator_density_is_normalised_and_critic_scores_each_sample(generator_inputs):
    generator, inputs = generator_inputs
    with torch.no_grad():
        density = generator(*inputs)
        scores = Critic(in_channels=6, width=4)(torch.cat([inputs[0], density[:, None]], 1))
    assert density.shape == (6, 8, 8, 8) and (density >= 0).all()
    assert torch.allclose(density.sum((1, 2, 3)), torch.ones(6))
    assert scores.shape == (6,)


def test_inference_wrapper_matches_the_generator(generator_inputs):
    """channels_last float32 gives the plain forward pass's numbers; bfloat16 autocast
    returns a float32 density within a few per cent of the peak."""
    generator, inputs = generator_inputs
    with torch.no_grad():
        reference = generator(*inputs)
        fast = InferenceGenerator(generator, torch.float32)(*inputs)
        low = InferenceGenerator(generator, torch.bfloat16)(*inputs)
        again = generator(*inputs)  # the wrapped generator still works on its own
    assert fast.dtype == low.dtype == torch.float32
    assert torch.allclose(fast, reference, rtol=1e-4, atol=1e-7)
    assert torch.allclose(again, reference, rtol=1e-4, atol=1e-7)
    assert (low - reference).abs().max() < 0.05 * reference.max()
    assert torch.allclose(low.sum((1, 2, 3)), torch.ones(6), atol=1e-2)
    with pytest.raises(ValueError, match="dtype"):
        InferenceGenerator(generator, torch.float16)


def test_bfloat16_inference_backmaps_consistently(chain_system, rng):
    """A model run with inference_dtype='bfloat16' still returns finite AA positions that
    map back onto the beads; an unknown dtype is refused by the config."""
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    config = DBMConfig(width=4, noise_dim=4, batch_size=2, n_critic=2, max_batches=2,
                       n_gibbs=1, n_candidates=2, inference_dtype="bfloat16")  # fmt: skip
    frames = [Atoms(topology.symbols, positions + rng.normal(scale=0.05, size=positions.shape))
              for _ in range(2)]  # fmt: skip
    model = DBMBackmapper(ff, config).fit(frames, topology, cgmap)
    beads = cgmap.map_positions(positions)
    aa = model(Atoms("X3", beads))
    assert np.isfinite(aa.positions).all()
    assert np.allclose(cgmap.map_positions(aa.positions), beads, atol=1e-8)
    with pytest.raises(ValueError, match="inference_dtype"):
        DBMConfig(inference_dtype="float16")


def test_inference_dtype_names():
    assert inference_dtype("float32") == torch.float32
    assert inference_dtype("bfloat16") == torch.bfloat16
    assert inference_dtype("auto", "cpu") in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="inference dtype"):
        inference_dtype("half")


def test_warm_start_after_inference_trains_in_the_default_layout(chain_system, rng):
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    config = DBMConfig(width=4, noise_dim=4, batch_size=2, n_critic=2, max_batches=2,
                       n_gibbs=1, n_candidates=2)  # fmt: skip
    frames = [Atoms(topology.symbols, positions + rng.normal(scale=0.05, size=positions.shape))
              for _ in range(2)]  # fmt: skip
    model = DBMBackmapper(ff, config).fit(frames, topology, cgmap)
    model(Atoms("X3", cgmap.map_positions(positions)))
    conv = model.generator_.embed[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d)
    model.warm_start = True
    model.fit(frames, topology, cgmap)
    assert model.generator_.embed[0][0].weight.is_contiguous()
    assert len(model.history_) == 2
