"""``cgkit ecg dos``: density of states of a saved model over a CG trajectory file."""

import numpy as np

from cgkit.cli import main
from cgkit.ecg import ECGRegressor


def test_ecg_dos_cli_from_npy_trajectory(tmp_path, rng):
    bead_positions = rng.normal(scale=1.5, size=(120, 4, 3))
    target = -8.0 + 0.1 * np.linalg.norm(bead_positions[:, 0] - bead_positions[:, 1], axis=1)
    model = ECGRegressor(
        hidden_sizes=(8,), latent_dim=2, n_inducing=16, n_epochs=5, batch_size=60, seed=0
    ).fit(bead_positions, target)
    model.save(tmp_path / "model.pt")
    np.save(tmp_path / "traj.npy", bead_positions[:50])
    out = tmp_path / "dos.csv"
    code = main(
        [
            "ecg",
            "dos",
            str(tmp_path / "model.pt"),
            "--cg-trajectory",
            str(tmp_path / "traj.npy"),
            "--grid=-10:-6:801",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    energy, density = np.loadtxt(out, delimiter=",", unpack=True)
    np.testing.assert_allclose(np.trapezoid(density, energy), 1.0, atol=1e-3)
    mean, _ = model.predict(bead_positions[:50], return_std=True)
    np.testing.assert_allclose(np.trapezoid(energy * density, energy), mean.mean(), atol=1e-3)
    assert (
        main(
            [
                "ecg",
                "dos",
                str(tmp_path / "model.pt"),
                "--cg-trajectory",
                str(tmp_path / "traj.npy"),
                "--grid",
                "bad",
            ]
        )
        == 2
    )
