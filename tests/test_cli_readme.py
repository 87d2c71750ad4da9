"""The README: its first code block is the two commands, every python block runs, its tables and
pictures are the committed output of ``make gallery``."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = [(m.group(1), m.group(2)) for m in FENCE.finditer(README)]
EXPERIMENTS = ["nielsen", "glorot", "he", "clipping", "regression", "classification"]


def test_first_code_block_is_the_two_commands():
    kind, body = BLOCKS[0]
    assert kind == "bash"
    lines = body.splitlines()
    assert [line.split("#")[0].strip() for line in lines] == ["make demo", "make test"]
    assert all("#" in line for line in lines)  # each with its comment


def test_every_python_block_runs(tmp_path, monkeypatch):
    """The python blocks form one session, run in order (illustrative blocks use text/console)."""
    blocks = [body for kind, body in BLOCKS if kind == "python"]
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    skip_torch = importlib.util.find_spec("torch") is None and not os.environ.get("CI")
    for index, body in enumerate(blocks):
        if skip_torch and "import torch" in body:
            continue  # the PyTorch section needs the optional torch extra (CI installs it)
        code = compile(body, f"README.md python block {index + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point
    for written in ("neuron.svg", "neuron_w.png", "mlp.svg"):
        assert (tmp_path / written).stat().st_size > 1000


@pytest.mark.parametrize("name", EXPERIMENTS + ["demo"])
def test_tables_are_the_measured_gallery_output(name):
    """README tables are pasted from docs/gallery/<name>.txt; after `make gallery`, paste again."""
    measured = (ROOT / "docs" / "gallery" / f"{name}.txt").read_text(encoding="utf-8")
    if name == "demo":
        measured = measured.split("\n\nwrote:")[0]
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
