"""The README: its first code block is the two commands, every python block runs on its own, its
tables and pictures are the committed output of ``make gallery``."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_edu import experiments

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = [(m.group(1), m.group(2)) for m in FENCE.finditer(README)]
EXPERIMENTS = experiments.names()  # the registry itself is pinned in test_experiments


def test_first_code_block_is_the_two_commands():
    kind, body = BLOCKS[0]
    assert kind == "bash"
    lines = body.splitlines()
    assert [line.split("#")[0].strip() for line in lines] == ["make demo", "make test"]
    assert all("#" in line for line in lines)  # each with its comment


PYTHON_BLOCKS = [body for kind, body in BLOCKS if kind == "python"]


def test_the_readme_has_its_python_blocks():
    assert len(PYTHON_BLOCKS) >= 7


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)), ids=lambda i: f"block {i + 1}")
def test_every_python_block_runs_on_its_own(tmp_path, index):
    """Each block is a complete program: it runs alone, in a fresh interpreter and an empty
    folder, with nothing from the blocks before it (illustrative blocks use text/console)."""
    body = PYTHON_BLOCKS[index]
    if "import torch" in body and importlib.util.find_spec("torch") is None and not os.environ.get("CI"):
        pytest.skip('the PyTorch section needs the torch extra (pip install "tinygrad_edu[torch]")')
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"README python block {index + 1} failed on its own:\n{done.stderr}"
    expected = {'viz.render(L, "neuron.svg")': ["neuron.svg", "neuron_w.png"], "mlp.svg": ["mlp.svg"]}
    for marker, files in expected.items():
        if marker in body:
            for written in files:
                assert (tmp_path / written).stat().st_size > 1000, written
    if 'fresh.load("notes.npz")' in body:  # the save/load block prints the LoadError it shows
        assert "load: 'notes.npz' is not a saved state: it is a text file" in done.stdout


@pytest.mark.parametrize("name", EXPERIMENTS + ["demo"])
def test_tables_are_the_measured_gallery_output(name):
    """README tables are pasted from docs/gallery/<name>.txt; after `make gallery`, paste again."""
    measured = (ROOT / "docs" / "gallery" / f"{name}.txt").read_text(encoding="utf-8")
    measured = measured.split("\n\nwrote:")[0]  # the list of files written follows the table
    assert measured.strip() in README, f"README's {name} table differs from docs/gallery/{name}.txt"


def test_pictures_in_the_readme_are_committed():
    pictures = re.findall(r"\]\((docs/gallery/[^)]+)\)", README)
    assert len(pictures) >= 15
    for picture in pictures:
        assert (ROOT / picture).is_file(), picture
    for name in EXPERIMENTS:
        assert f"docs/gallery/{name}" in README and f"`{name}`" in README


def test_make_gallery_regenerates_the_gallery():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = makefile.split("\ngallery:", 1)[1].split("\n\n", 1)[0]
    assert "demo --out docs/gallery" in rule
    for name in EXPERIMENTS:
        assert name in rule
    assert os.path.isdir(ROOT / "docs" / "gallery")
