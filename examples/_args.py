"""Command-line flags shared by the example scripts: ``--quick`` (seconds) and ``--out DIR``."""

import argparse


def parse(name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=f"the {name} example")
    parser.add_argument("--quick", action="store_true", help="the small version (seconds)")
    parser.add_argument("--out", default=f"out/{name}", help=f"folder for pictures (default out/{name})")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()
