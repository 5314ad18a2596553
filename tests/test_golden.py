"""Golden outputs (simulation/golden.py): a few bundled scenarios and seeds give exactly (to 1e-12)
the outputs stored in tests/golden/. A deliberate change to the model is recorded with
`python -m simulation.golden --write` (or `make golden`), whose printed diff is reviewed before the
files are committed; an accidental one fails here."""

import json

import pytest

from simulation import golden


@pytest.mark.parametrize("case", [c[0] for c in golden.CASES])
def test_outputs_equal_the_stored_golden_outputs(case):
    differences = golden.diff(golden.load(case), golden.compute(case))
    assert not differences, ("outputs changed:\n" + "\n".join(differences) + "\nIf this is meant, run "
                             "`python -m simulation.golden --write` (make golden), review its diff and commit tests/golden/.")


def test_golden_files_are_small_and_hold_every_summary_output():
    from simulation.runner import SUMMARY_KEYS

    for name, *_ in golden.CASES:
        path = golden.path_of(name)
        assert path.stat().st_size < 30_000
        assert set(json.loads(path.read_text())["summary"]) == set(SUMMARY_KEYS)


def test_regeneration_is_one_command_that_prints_the_diff(tmp_path, monkeypatch, capsys):
    """`python -m simulation.golden --write` writes the files and prints what changed; the check exits 1 on a difference."""
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    case = "threshold_seed1"
    monkeypatch.setattr(golden, "path_of", lambda name: tmp_path / f"{name}.json")
    assert golden.main([case]) == 1  # nothing stored yet
    assert golden.main(["--write", case]) == 0 and (tmp_path / f"{case}.json").exists()
    assert golden.main([case]) == 0
    record = json.loads((tmp_path / f"{case}.json").read_text())
    record["summary"]["adopted_share"] += 0.01
    record["timeseries"]["adopted"][5] += 1
    (tmp_path / f"{case}.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert golden.main([case]) == 1
    out = capsys.readouterr().out
    assert "summary.adopted_share" in out and "timeseries.adopted: 1 of" in out and "--write" in out
    assert golden.main(["--write", case]) == 0 and golden.main([case]) == 0
    assert golden.main(["no_such_case"]) == 2


def test_a_difference_in_the_last_bits_is_tolerated_and_one_in_the_twelfth_digit_is_not():
    assert golden._same(1.0, 1.0 + 2e-16) and not golden._same(1.0, 1.0 + 1e-11)
    assert golden._same(None, None) and not golden._same(None, 0.0)
