"""cgkit demo: the quick end-to-end run (slow: real GFN2-xTB MD + ECG)."""

import numpy as np
import pytest

from cgkit.demo.pipeline import DEFAULT_RECIPE


@pytest.mark.slow
def test_quick_demo_end_to_end_and_resume(tmp_path):
    if not DEFAULT_RECIPE.exists():
        pytest.skip("demo recipe not in this checkout")
    from cgkit.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--frames", "120"]) == 0
    report = (out / "report.md").read_text()
    for name in ("2bead", "4bead", "6bead", "8bead"):
        assert f"| {name} |" in report
        assert (out / "models" / f"ecg-homo-{name}.pt").exists()
    for png in ("noise_vs_resolution.png", "dos.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import cgkit.data

    with cgkit.data.open(out / "bithiophene.h5") as store:
        system = store[store.system_names[0]]
        assert system.n_frames == 120
        assert system.label_counts("homo")["ok"] == 120
        homo = system.read_labels("homo")
    assert np.all((homo > -15) & (homo < 0))  # GFN2-xTB HOMO of bithiophene, eV
    # a re-run reuses the store and the models
    assert main(["demo", "--quick", "--out", str(out), "--frames", "120"]) == 0
    assert "(reused)" in (out / "report.md").read_text()
