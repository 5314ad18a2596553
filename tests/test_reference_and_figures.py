"""The generated scenario reference is current, and ``spreadsim figures`` writes its figures."""

from __future__ import annotations

import re

import pytest

from simulation.cli import main
from simulation.errors import InputError
from simulation.reference import DEFAULT_PATH, render
from simulation.scenario import Scenario

from .conftest import ROOT


def _schema_keys(model, prefix=""):
    from pydantic import BaseModel

    from simulation.scenario import Dist

    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not Dist:
            yield from _schema_keys(sub, key)
        else:
            yield key


def test_committed_reference_equals_the_generated_one():
    committed = (ROOT / DEFAULT_PATH).read_text(encoding="utf-8")
    assert committed == render(), "docs/scenario-reference.md is stale: run `spreadsim reference`"


def test_reference_lists_every_key_with_default_range_and_source():
    text = render()
    rows = {m.group(1): line for line in text.splitlines() if (m := re.match(r"\| `([^`]+)` \|", line))}
    keys = list(_schema_keys(Scenario))
    assert len(keys) > 80
    for key in keys:
        assert key in rows, f"{key} missing from the reference"
        cells = [c.strip() for c in rows[key].strip("|").split(" | ")]
        assert len(cells) == 6, rows[key]
    # spot checks: default, unit, range and source come from the schema (read from it, not copied,
    # so that tuning a default does not break this test)
    from simulation.scenario import Social, Support, Traits

    q = [c.strip() for c in rows["logics.social.q"].strip("|").split(" | ")]
    assert q[2] == "/month" and q[3] == f"{Social.model_fields['q'].default:g}"
    assert q[4] == "number from 0 to 1" and "Bass" in q[5]
    cap = [c.strip() for c in rows["strategy.support.capacity"].strip("|").split(" | ")]
    assert cap[3] == str(Support.model_fields["capacity"].default) and cap[4] == "whole number ≥ 0; or null"
    rule = [c.strip() for c in rows["logics.social.rule"].strip("|").split(" | ")]
    assert "`threshold`" in rule[4] and "`bass`" in rule[4]
    cap_dist = Traits.model_fields["capacity"].default_factory()
    assert f"{cap_dist.dist}(" in rows["sites.traits.capacity"]


def test_reference_command_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "ref.md"
    assert main(["reference", "--check", "--out", str(out)]) == 1  # missing: out of date
    assert main(["reference", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
    assert main(["reference", "--check", "--out", str(out)]) == 0
    out.write_text("stale\n")
    assert main(["reference", "--check", "--out", str(out)]) == 1
    assert main(["reference", "--out", str(tmp_path)]) == 2  # a folder: a clear error
    assert "is a folder" in capsys.readouterr().err


def test_figures_bad_arguments_are_clear_errors(tmp_path, capsys):
    code = main(["figures", "--out", str(tmp_path / "f"), "--replicates", "1", "--samples", "6", "--only", "pie"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--replicates" in err and "--samples" in err and "--only" in err
    assert "Traceback" not in err
    assert not (tmp_path / "f").exists()


def test_figures_are_written(tmp_path):
    from simulation.figures import make_figures

    paths = make_figures(tmp_path / "figs", replicates=3, samples=4, sa_replicates=1, executor="serial",
                         only=["case", "strategy", "sobol"], progress=False)
    assert set(paths) == {"case_keystone_vs_matching", "strategy_comparison", "strategy_differences", "sobol"}
    for p in paths.values():
        assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    # no temporary files left: the only hidden file is the ownership record
    assert [p.name for p in (tmp_path / "figs").iterdir() if p.name.startswith(".")] == [".spreadsim-record.json"]


def test_figures_reject_a_file_as_output_folder(tmp_path):
    f = tmp_path / "file.png"
    f.write_text("x")
    with pytest.raises(InputError) as e:
        from simulation.figures import make_figures

        make_figures(f, progress=False)
    assert "not a folder" in str(e.value)


def test_committed_figures_match_the_current_model():
    """The README's figures tell the current model's story: their stored data (docs/figures/*.csv)
    are recomputed with the current model at the settings in figures.json (the Sobol figure by its
    first samples) and must match. When the model changes, run `make figures`."""
    from simulation.figures import check_figures

    problems = check_figures(executor="serial")
    assert not problems, ("the README's figures no longer match what the current model gives; run `make figures` "
                          "(or `spreadsim figures`) and commit docs/figures/:\n  " + "\n  ".join(problems))


def test_figure_check_notices_a_stale_figure(tmp_path):
    """A figure whose stored data differ from the model's is named, with a row that differs."""
    import shutil

    import pandas as pd

    from simulation.figures import ROOT, check_figures

    src = ROOT / "docs" / "figures"
    for f in ("figures.json", "sobol_check.csv"):  # the cheapest to recompute (a dozen runs)
        shutil.copy(src / f, tmp_path / f)
    df = pd.read_csv(tmp_path / "sobol_check.csv")
    df.loc[1, "adopted_share"] += 0.01
    df.to_csv(tmp_path / "sobol_check.csv", index=False)
    problems = check_figures(tmp_path, executor="serial")
    assert any(p.startswith("sobol_check.csv (the Sobol figure's first samples): column adopted_share differs in 1 rows")
               for p in problems), problems
    assert any("case_keystone_vs_matching.csv: missing" in p for p in problems)
