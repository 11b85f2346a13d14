"""The calculator zoo: every shipped entry loads, runs on all-atom Atoms and reproduces its card."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import numpy as np
import pytest
from ase import Atoms

from cgkit.calculators import zoo

ZOO = zoo.zoo_dir()
NAMES = zoo.available()
#: the issue's minimum: bithiophene HOMO/LUMO at 8 beads, TEMPO SOMO with and without N-O
REQUIRED = {
    "bithiophene-homo-8bead",
    "bithiophene-lumo-8bead",
    "tempo-somo-keep-no",
    "tempo-somo-merge-no",
}


def _make_zoo_module():
    spec = importlib.util.spec_from_file_location("make_zoo", ZOO / "make_zoo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_zoo", module)
    spec.loader.exec_module(module)
    return module


def _reference_atoms(name: str) -> tuple[list[Atoms], dict]:
    reference = zoo.entry(name).read_reference()
    images = [Atoms(numbers=reference["numbers"], positions=p) for p in reference["positions"]]
    return images, reference


def test_zoo_has_the_required_entries():
    assert REQUIRED <= set(NAMES)
    assert set(NAMES) == set(_make_zoo_module().ENTRIES)


@pytest.mark.parametrize("name", NAMES)
def test_entry_reproduces_stored_prediction(name):
    from cgkit.calculators import ECGCalculator, load

    calc = load(name)
    item = zoo.entry(name)
    assert isinstance(calc, ECGCalculator)
    assert calc.implemented_properties == [item.property, item.property + "_std"]
    images, reference = _reference_atoms(name)
    assert len(images) >= 1
    for atoms, mean, std in zip(images, reference["mean"], reference["std"], strict=True):
        atoms.calc = calc
        assert atoms.calc.get_property(item.property, atoms) == pytest.approx(mean, abs=1e-4)
        assert atoms.calc.get_property(item.property + "_std", atoms) == pytest.approx(
            std, rel=1e-3
        )
    # the stored DFT/xTB label lies within the predicted distribution (held-out frames)
    z = np.abs(reference["label"] - reference["mean"]) / reference["std"]
    assert np.all(z < 5.0), z


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_invariant_to_rigid_motion(name, rng):
    from cgkit.calculators import load

    calc = load(name)
    property_name = zoo.entry(name).property
    images, reference = _reference_atoms(name)
    moved = images[0].copy()
    axis = rng.normal(size=3)
    moved.rotate(float(rng.uniform(20, 340)), v=axis, center="COM")
    moved.translate(rng.normal(scale=5.0, size=3))
    moved.calc = calc
    value = moved.calc.get_property(property_name, moved)
    assert value == pytest.approx(reference["mean"][0], abs=1e-3)
    # and the batch path agrees with the per-Atoms path
    mean, std = calc.predict(images)
    np.testing.assert_allclose(mean, reference["mean"], atol=1e-4)
    np.testing.assert_allclose(std, reference["std"], rtol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_card_matches_entry(name):
    item = zoo.entry(name)
    card = (item.folder / zoo.CARD_FILE).read_text()
    metrics = json.loads((item.folder / zoo.ENTRY_FILE).read_text())["metrics"]
    assert f"python calculators/make_zoo.py {name} --store" in card
    assert "cgkit build datasets/" in card
    assert f"| RMSE | {metrics['rmse']:.4f} eV |" in card
    assert f"| mean predicted std | {metrics['mean_std']:.4f} eV |" in card
    # the model is small enough to commit
    assert (item.folder / zoo.MODEL_FILE).stat().st_size < 2_000_000


def test_map_matches_the_model():
    for name in NAMES:
        calc = zoo.load(name)
        reference = zoo.entry(name).read_reference()
        assert calc.cgmap.n_atoms == len(reference["numbers"])
        assert calc.cgmap.n_beads == calc.model.n_beads_
        np.testing.assert_allclose(calc.cgmap.weights.sum(axis=1), 1.0)


def test_tempo_merged_no_is_noisier():
    """Decimating the N-O bond turns the SOMO's N-O dependence into predicted noise."""
    keep = json.loads((ZOO / "tempo-somo-keep-no" / zoo.ENTRY_FILE).read_text())["metrics"]
    merge = json.loads((ZOO / "tempo-somo-merge-no" / zoo.ENTRY_FILE).read_text())["metrics"]
    assert merge["mean_std"] > 1.5 * keep["mean_std"]
    assert merge["rmse"] > 1.5 * keep["rmse"]


def test_unknown_name_lists_available():
    from cgkit.calculators import load

    with pytest.raises(KeyError, match="no calculator 'nope'") as info:
        load("nope")
    message = str(info.value)
    for name in NAMES:
        assert name in message


def test_empty_zoo_and_missing_files(tmp_path):
    with pytest.raises(KeyError, match="available: none"):
        zoo.load("bithiophene-homo-8bead", root=tmp_path)
    name = NAMES[0]
    shutil.copytree(ZOO / name, tmp_path / name)
    assert zoo.available(tmp_path) == [name]
    (tmp_path / name / zoo.MODEL_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="model.pt is missing"):
        zoo.load(name, root=tmp_path)
    (tmp_path / name / zoo.ENTRY_FILE).write_text('{"kind": "Pickle"}')
    with pytest.raises(ValueError, match="kind must be 'ECGRegressor'"):
        zoo.entry(name, root=tmp_path)


def test_held_out_split_is_contiguous_per_replica():
    held_out_split = _make_zoo_module().held_out_split
    train, test, first = held_out_split(10, 2, 0.2)
    np.testing.assert_array_equal(test, [4, 9])
    np.testing.assert_array_equal(first, [4, 9])
    train, test, first = held_out_split(11, 2, 0.2)  # blocks of 6 and 5 frames
    np.testing.assert_array_equal(test, [4, 5, 10])
    np.testing.assert_array_equal(first, [4, 10])
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == 11
