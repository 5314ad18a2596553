"""Every notebook in notebooks/ runs from top to bottom without error, within its time limit.

Notebooks are stored without outputs (so diffs stay readable and nothing stale is shown); each is
executed here with nbclient from the notebooks/ folder, as a reader would run it, so none can rot.
"""

from __future__ import annotations

import time

import nbclient  # test dependencies (pyproject: [test] extra); a missing one must fail, not skip
import nbformat
import pytest

from .conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
#: a notebook must finish in under two minutes on a laptop; allow a loaded CI machine twice that
TIME_LIMIT_S = 240


def test_there_are_notebooks():
    names = [p.name for p in PATHS]
    for prefix in ("01_", "02_", "03_", "04_", "05_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs before committing"
    assert nb.cells[-1].cell_type == "markdown" and "Questions" in nb.cells[-1].source, \
        f"{path.name} should end with questions for the reader"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIME_LIMIT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    elapsed = time.perf_counter() - t0
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.0f} s"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
