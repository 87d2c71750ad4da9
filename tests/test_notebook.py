"""examples/tour.ipynb runs from top to bottom in a fresh kernel (nbclient + ipykernel).

Its cells check themselves with ``assert`` (against finite differences, the nodes' own data, the
monitor's history); here every cell must run without error and the inline pages must be what the
notebook displays. SVG outputs are not compared (Graphviz versions lay out differently).
Skipped off CI without the ``notebook`` extra (CI installs it: there a missing one fails).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from test_viz_support import needs

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"
HAS_NOTEBOOK_TOOLS = all(
    importlib.util.find_spec(m) is not None for m in ("nbclient", "nbformat", "ipykernel")
)

pytestmark = needs(
    HAS_NOTEBOOK_TOOLS, 'nbclient, nbformat or ipykernel is missing: pip install -e ".[notebook]"'
)


def test_the_committed_notebook_has_no_outputs():
    """Outputs are made by running it, not stored (they would go stale and bloat diffs)."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert len(code) >= 8
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def test_the_tour_notebook_runs_and_every_cell_passes(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o["data"] for o in outputs if o.output_type in ("execute_result", "display_data")]
    frames = [d["text/html"] for d in shown if "text/html" in d]
    assert len(frames) == 2  # the viewer and the dashboard, each in its sandboxed iframe
    assert all(f.startswith('<iframe sandbox="allow-scripts"') for f in frames)
    assert "tv-data" in frames[0] and "td-data" in frames[1]
    assert any("image/svg+xml" in d for d in shown)  # the picture of the graph
