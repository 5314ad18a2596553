"""The notebooks show their figures whatever the matplotlib backend, each once.

With ``MPLBACKEND=Agg`` pyplot shows nothing by itself and ``display(fig)`` shows only text, so a
notebook must hand its figures to :func:`simulation.plots.show` (a PNG image). Every cell that draws
is checked to do so (all notebooks, by reading them), and three notebooks are run under Agg and
under the usual inline backend to see exactly one image per figure in each drawing cell.
"""

from __future__ import annotations

import re

import nbclient
import nbformat
import pytest

from .conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
#: what makes a figure in a cell
DRAWS = re.compile(r"plt\.subplots|plt\.figure|\.plot\(|\.plot_[a-z]+\(|\.plot_marginals|\.plot_fit")
#: how many figures each drawing cell of the executed notebooks shows
RUN = ("01_three_logics", "02_what_if", "05_classic_models")


def _drawing_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and DRAWS.search(c.source)]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_drawing_cell_shows_its_figure(path):
    nb = nbformat.read(path, as_version=4)
    cells = _drawing_cells(nb)
    assert cells, f"{path.name} draws nothing?"
    for i in cells:
        assert re.search(r"^\s*show\(", nb.cells[i].source, re.M), (
            f"{path.name}, cell {i}: draws a figure but does not show() it (invisible with MPLBACKEND=Agg)")


def _images(nb, i: int) -> int:
    return sum(1 for o in nb.cells[i].outputs if o.get("output_type") == "display_data" and "image/png" in o.get("data", {}))


@pytest.mark.parametrize("backend", ["Agg", "inline"])
@pytest.mark.parametrize("name", RUN)
def test_figures_appear_once_whatever_the_backend(name, backend, monkeypatch):
    if backend == "Agg":
        monkeypatch.setenv("MPLBACKEND", "Agg")
    else:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for i in _drawing_cells(nb):
        src = nb.cells[i].source
        expected = 1 if "show(" in src and "show(figs)" not in src else None
        assert _images(nb, i) == expected, f"{name} cell {i} under {backend}: {_images(nb, i)} images"
