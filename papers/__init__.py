"""One self-contained package per paper; see each package's README.md."""


def _check_shared_is_ours() -> None:
    """A folder named ``shared/`` in the current directory (e.g. a team's data folder) shadows this
    project's ``shared`` package when a run is started from there; say so in one line (issue 11)."""
    import importlib.util
    import sys
    from pathlib import Path

    ours = Path(__file__).resolve().parents[1] / "shared"
    try:
        spec = importlib.util.find_spec("shared")
    except (ImportError, ValueError):
        spec = None
    where = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    if spec is not None and ours not in where:
        other = where[0] if where else Path(spec.origin or "?")
        sys.stderr.write(f"error: {other} shadows this project's `shared` package ({ours}): start the run from "
                         f"another folder, e.g. `cd {ours.parent} && python -m papers.<paper>.reproduce ...`\n")
        raise SystemExit(2)


_check_shared_is_ours()
