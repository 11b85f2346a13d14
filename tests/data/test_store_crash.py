"""Crash safety: uncommitted tail frames are invisible and overwritten; SIGKILL leaves a store."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cgkit.data


@pytest.fixture(params=["h5", "zarr"])
def suffix(request):
    return request.param


def _frame_positions(indices, n_atoms=5):
    """Deterministic positions: frame k is filled with k (Å), atom j offset by j."""
    indices = np.asarray(indices, dtype=float)
    return indices[:, None, None] + np.arange(n_atoms)[None, :, None] * np.ones(3) * 0.1


def test_partial_tail_is_invisible_and_overwritten(tmp_path, suffix):
    path = tmp_path / f"c.{suffix}"
    with cgkit.data.create(path) as store:
        system = store.add_system("s", [6] * 5)
        system.append_frames(_frame_positions(range(4)), labels={"energy": np.arange(4.0)})
        # simulate a writer killed after writing data but before committing the count
        positions = system.group.array("positions")
        positions.resize(7)
        positions.write(4, np.full((3, 5, 3), -99.0))
    with cgkit.data.open(path) as store:
        assert store["s"].n_frames == 4
        np.testing.assert_array_equal(store["s"].read_positions(), _frame_positions(range(4)))
        with pytest.raises(IndexError):
            store["s"].read_positions([5])
    with cgkit.data.open(path, "a") as store:
        store["s"].append_frames(_frame_positions([4, 5]), labels={"energy": [4.0, 5.0]})
    with cgkit.data.open(path) as store:
        system = store["s"]
        assert system.n_frames == 6
        np.testing.assert_array_equal(system.read_positions(), _frame_positions(range(6)))
        np.testing.assert_array_equal(system.read_labels("energy"), np.arange(6.0))
        assert system.label_counts("energy") == {"pending": 0, "ok": 6, "failed": 0}


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import cgkit.data

    path = sys.argv[1]
    with cgkit.data.create(path) as store:
        system = store.add_system("s", [6] * 5)
        system.add_label("energy")
        k = 0
        while True:
            idx = np.arange(k, k + 50, dtype=float)
            positions = idx[:, None, None] + np.arange(5)[None, :, None] * np.ones(3) * 0.1
            system.append_frames(positions)
            system.write_labels("energy", np.arange(k, k + 50), idx * 2.0)
            k += 50
            if k == 100:
                print("ready", flush=True)
    """
)


def test_sigkill_mid_append_leaves_readable_resumable_store(tmp_path, suffix):
    path = tmp_path / f"killed.{suffix}"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with cgkit.data.open(path) as store:
        system = store["s"]
        n = system.n_frames
        assert n >= 100 and n % 50 == 0
        np.testing.assert_array_equal(system.read_positions(), _frame_positions(range(n)))
        ok = system.label_status("energy") == cgkit.data.OK
        # labels are ok only where written, and then correct; at most the last chunk pending
        np.testing.assert_array_equal(system.read_labels("energy")[ok], 2.0 * np.flatnonzero(ok))
        assert ok[: n - 50].all()
    # the dead writer's lock is stale: a new writer resumes (with a warning) and appends
    with pytest.warns(UserWarning, match="stale lock"):
        with cgkit.data.open(path, "a") as store:
            store["s"].append_frames(_frame_positions([n]))
    with cgkit.data.open(path) as store:
        np.testing.assert_array_equal(store["s"].read_positions(), _frame_positions(range(n + 1)))
