"""One self-contained package per paper; see each package's README.md."""
