"""``python -m shared.data {list,fetch NAME,verify NAME} [--data-dir DIR]``."""
from __future__ import annotations

import argparse
import sys

from .registry import REGISTRY, DataError, fetch, find, roots


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shared.data", description=__doc__)
    ap.add_argument("command", choices=["list", "fetch", "verify"])
    ap.add_argument("name", nargs="?")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args(argv)
    if a.command == "list":
        for s in REGISTRY.values():
            here = [f.path for f in s.files if find(s.name, f.path, a.data_dir)]
            state = f"{len(here)}/{len(s.files)} files here" if s.files else "folder with manifest"
            print(f"{s.name:16s} {state:18s} {s.description}")
        print("roots:", ", ".join(map(str, roots(a.data_dir))))
        return 0
    if not a.name:
        ap.error(f"{a.command} needs a dataset name")
    try:
        for p in fetch(a.name, a.data_dir, download=a.command == "fetch"):
            print(f"ok {p}")
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
