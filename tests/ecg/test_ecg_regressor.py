"""ECGRegressor: learning, invariance, variance decomposition, save/load, bad files."""

import json

import numpy as np
import pytest
import torch

from cgkit.ecg import ECGConfig, ECGRegressor
from cgkit.ecg.exact import ExactGPRegressor

torch.set_num_threads(1)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def dihedral_chain(n_frames, rng):
    """4-bead chains with a random dihedral; property = 0.3 cos(phi) + phi-dependent noise."""
    phi = rng.uniform(-np.pi, np.pi, n_frames)
    pos = np.zeros((n_frames, 4, 3))
    pos[:, 1] = [1.5, 0.0, 0.0]
    pos[:, 2] = [2.0, 1.4, 0.0]
    pos[:, 3] = pos[:, 2] + np.stack(
        [0.5 * np.ones_like(phi), 1.2 * np.cos(phi), 1.2 * np.sin(phi)], axis=-1
    )
    pos += rng.normal(scale=0.03, size=pos.shape)
    for f in range(n_frames):  # random rigid motion of each frame
        pos[f] = pos[f] @ random_rotation(rng).T + rng.normal(scale=5.0, size=3)
    noise = 0.02 + 0.04 * (1 + np.cos(phi)) / 2
    y = -8.0 + 0.3 * np.cos(phi) + rng.normal(size=n_frames) * noise
    return pos, y


@pytest.fixture(scope="module")
def data():
    return dihedral_chain(700, np.random.default_rng(0))


@pytest.fixture(scope="module")
def model(data):
    pos, y = data
    return ECGRegressor(
        hidden_sizes=(16, 8),
        latent_dim=2,
        n_inducing=64,
        n_epochs=40,
        batch_size=100,
        learning_rate=0.01,
        seed=0,
    ).fit(pos[:600], y[:600])


def test_fit_learns_the_property(model, data):
    pos, y = data
    mean, std = model.predict(pos[600:], return_std=True)
    rmse = np.sqrt(np.mean((mean - y[600:]) ** 2))
    assert rmse < 0.35 * y.std()
    assert np.all(std > 0) and np.all(np.isfinite(std))
    assert len(model.history_) == 40 and model.history_[-1] < model.history_[0]


def test_predictions_are_rotation_and_translation_invariant(model, data, rng):
    pos, _ = data
    moved = pos[600:] @ random_rotation(rng).T + np.array([3.0, -7.0, 11.0])
    mean_a, std_a = model.predict(pos[600:], return_std=True)
    mean_b, std_b = model.predict(moved, return_std=True)
    np.testing.assert_allclose(mean_b, mean_a, rtol=1e-5)
    np.testing.assert_allclose(std_b, std_a, rtol=1e-4)


def test_empty_input_gives_empty_predictions(model):
    mean, std = model.predict(np.zeros((0, 4, 3)), return_std=True)
    assert mean.shape == std.shape == (0,)
    assert model.encode(np.zeros((0, 4, 3))).shape == (0, model.config.latent_dim)


def test_variance_components_sum_to_predictive_variance(model, data):
    pos, _ = data
    parts = model.predict_components(pos[600:])
    _, std = model.predict(pos[600:], return_std=True)
    total = parts["var_K"] + parts["var_S"] + parts["var_noise"]
    np.testing.assert_allclose(total, parts["var_total"], rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(total), std, rtol=1e-8)
    assert np.all(parts["var_K"] >= -1e-12) and np.all(parts["var_S"] >= 0)


def test_single_frame_and_bad_input_errors(model, data):
    pos, _ = data
    assert model.predict(pos[0]).shape == (1,)
    bad = pos[:5].copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="frame 3, bead 2"):
        model.predict(bad)
    with pytest.raises(ValueError, match="4 beads"):
        model.predict(pos[:5, :3])
    with pytest.raises(ValueError, match="target"):
        ECGRegressor().fit(pos[:10], np.zeros(9))
    with pytest.raises(RuntimeError, match="not fitted"):
        ECGRegressor().predict(pos[:2])


def test_config_is_a_typed_dataclass_round_trip(model):
    cfg = model.config
    assert isinstance(cfg, ECGConfig) and cfg.hidden_sizes == (16, 8) and cfg.latent_dim == 2
    assert ECGRegressor.from_config(cfg).config == cfg
    with pytest.raises(ValueError, match="unknown"):
        ECGConfig.from_dict({"latent_size": 3})


def test_save_load_gives_identical_predictions(model, data, tmp_path):
    pos, _ = data
    path = tmp_path / "ecg.pt"
    model.save(path)
    loaded = ECGRegressor.load(path)
    for a, b in zip(model.predict(pos[600:], True), loaded.predict(pos[600:], True), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.config == model.config
    payload = torch.load(path, weights_only=True)
    assert json.loads(payload["metadata"])["cgkit_version"]


def _tamper(src, dst, edit):
    payload = torch.load(src, weights_only=True)
    edit(payload)
    torch.save(payload, dst)


def test_tampered_model_files_are_refused(model, tmp_path):
    good = tmp_path / "good.pt"
    model.save(good)

    def non_tensor(p):
        p["state_dict"]["encoder.encoding.e1.weight"] = [[1.0]]

    def config_mismatch(p):
        meta = json.loads(p["metadata"])
        meta["config"]["latent_dim"] = 3
        p["metadata"] = json.dumps(meta)

    def bad_json(p):
        p["metadata"] = "{config: __import__('os')}"

    for name, edit, message in [
        ("non_tensor", non_tensor, "not a tensor"),
        ("mismatch", config_mismatch, "does not match"),
        ("json", bad_json, "not valid JSON"),
    ]:
        path = tmp_path / f"{name}.pt"
        _tamper(good, path, edit)
        with pytest.raises(ValueError, match=message) as info:
            ECGRegressor.load(path)
        assert str(path) in str(info.value)

    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "cgkit.ecg.ECGRegressor", "metadata": "{}", "obj": ECGConfig()}, pickled)
    with pytest.raises(ValueError, match="non-tensor objects"):
        ECGRegressor.load(pickled)
    with pytest.raises(ValueError, match="ExactGPRegressor"):
        ExactGPRegressor.load(good)


def test_fit_store_equals_fit_on_arrays(tmp_path, data):
    from cgkit.data import from_arrays
    from cgkit.data import open as open_store
    from cgkit.mapping import CGMap

    pos, y = data
    pos, y = pos[:120], y[:120]
    offsets = np.array([0.3, 0.0, 0.0])
    atoms = np.concatenate([pos + offsets, pos - offsets], axis=1)  # atom i and i+4 -> bead i
    cgmap = CGMap.from_groups([[i, i + 4] for i in range(4)], weights="center")
    path = from_arrays(
        tmp_path / "mol.h5",
        ["C"] * 8,
        atoms,
        labels={"homo": y},
        maps={"4bead": cgmap},
        system="mol",
    )
    kwargs = dict(hidden_sizes=(8,), latent_dim=2, n_inducing=16, n_epochs=3, batch_size=40)
    with open_store(path) as store:
        from_store = ECGRegressor(**kwargs).fit_store(store, "4bead", "homo")
    from_arrays_model = ECGRegressor(**kwargs).fit(cgmap.map_positions(atoms), y)
    np.testing.assert_allclose(from_store.predict(pos[:20]), from_arrays_model.predict(pos[:20]))
