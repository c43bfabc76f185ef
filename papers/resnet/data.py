"""The paper's data pipelines: CIFAR-10 (§4.2) and ImageNet (§3.4).

CIFAR-10, §4.2: "The network inputs are 32x32 images, with the per-pixel mean subtracted ... We
follow the simple data augmentation in [24] for training: 4 pixels are padded on each side, and a
32x32 crop is randomly sampled from the padded image or its horizontal flip. For testing, we only
evaluate the single view of the original 32x32 image." Schedules were chosen on a 45k/5k
train/val split.

Images are kept as uint8 tensors; mean subtraction and the random pad/crop/flip run on whole
batches in the main process (:func:`augment`, called from the loss function), so their random
draws come from the checkpointed torch RNG and ``--resume`` is exact (shared/trainer.py).

Sources, in order: an explicit path (CIFAR python batches folder or ``.tar.gz``; a class-per-folder
tree or zip with ``train/`` and ``test/``), the registry's canonical ``cifar10`` batches, the
registry's ``cifar10_jpg`` zips, else the embedded generated task (:func:`synthetic_cifar`).
"""
from __future__ import annotations

import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch.utils.data import Dataset, TensorDataset

from shared.data import read_cifar_batches, read_image_folder, registry

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class ImageSplits:
    """uint8 images [N, 3, H, W] and int64 labels for train / val / test; ``source`` says where from."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str
    classes: tuple[str, ...] = CIFAR10_CLASSES


# -- reading ------------------------------------------------------------------------------

def _to_tensor(x: np.ndarray) -> torch.Tensor:
    return rearrange(torch.from_numpy(np.ascontiguousarray(x)), "n h w c -> n c h w").contiguous()  # uint8


def read_cifar_path(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 from a path: python batches (folder or .tar.gz) or a class-per-folder tree / zip
    holding ``train/<class>/*`` and ``test/<class>/*`` (or a train zip beside a test zip)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CIFAR-10 path {path} does not exist; point --set data_path at the python batches "
                                f"folder, cifar-10-python.tar.gz, or a folder/zip with train/<class>/ and test/<class>/")
    if path.name.endswith((".tar.gz", ".tgz")) or (path.is_dir() and any(path.rglob("data_batch_1"))):
        xtr, ytr = read_cifar_batches(path, "train")
        xte, yte = read_cifar_batches(path, "test")
        return xtr, ytr, xte, yte
    if path.suffix == ".zip":
        names = zipfile.ZipFile(path).namelist()
        has_test = any(n.startswith("test/") for n in names)
        test_zip = path if has_test else path.with_name(path.name.replace("train", "test"))
        if not test_zip.exists():
            raise FileNotFoundError(f"{path} has no test/ folder and there is no {test_zip.name} beside it")
        xtr, ytr, _ = read_image_folder(path, prefix="train/")
        xte, yte, _ = read_image_folder(test_zip, prefix="test/")
        return xtr, ytr, xte, yte
    if (path / "train").is_dir() and (path / "test").is_dir():
        xtr, ytr, _ = read_image_folder(path, prefix="train/")
        xte, yte, _ = read_image_folder(path, prefix="test/")
        return xtr, ytr, xte, yte
    raise ValueError(f"cannot read CIFAR-10 from {path}: expected python batches (data_batch_1 ... test_batch), "
                     f"cifar-10-python.tar.gz, or a folder/zip with train/<class>/ and test/<class>/")


def find_cifar10(data_dir: str | None = None, data_path: str = "", source: str = "auto"):
    """``(x_train, y_train, x_test, y_test, name)`` as numpy uint8 NHWC, or ``None`` when no real copy
    is present. ``source``: auto | cifar10 | cifar10_jpg | synthetic."""
    if source not in ("auto", "cifar10", "cifar10_jpg", "synthetic"):
        raise ValueError(f"dataset {source!r} is not one of auto, cifar10, cifar10_jpg, synthetic")
    if source == "synthetic":
        return None
    if data_path:
        return (*read_cifar_path(data_path), f"path:{data_path}")
    tar = "cifar-10-python.tar.gz"
    if source in ("auto", "cifar10") and registry.available("cifar10", tar, data_dir):
        p = registry.require("cifar10", tar, data_dir)
        return (*read_cifar_path(p), "cifar10")
    zips = ("cifar10_train_jpg.zip", "cifar10_test_jpg.zip")
    if source in ("auto", "cifar10_jpg") and all(registry.available("cifar10_jpg", z, data_dir) for z in zips):
        tr, te = (registry.require("cifar10_jpg", z, data_dir) for z in zips)
        xtr, ytr, _ = read_image_folder(tr, prefix="train/")
        xte, yte, _ = read_image_folder(te, prefix="test/")
        return xtr, ytr, xte, yte, "cifar10_jpg"
    if source != "auto":  # asked for a specific dataset: fetch it or say how
        if source == "cifar10":
            p = registry.require("cifar10", tar, data_dir)
            return (*read_cifar_path(p), "cifar10")
        for z in zips:
            registry.require("cifar10_jpg", z, data_dir)  # raises with where to put the file
    return None


def synthetic_cifar(n_train: int = 5000, n_test: int = 1000, seed: int = 0, size: int = 32, classes: int = 10
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The embedded default: a generated 10-class 32x32 colour-image task.

    Each class is a smooth random colour pattern (a 4x4 grid upsampled); an image is its class
    pattern, randomly shifted and flipped, blended with another class's pattern (weight 0.45)
    and with pixel noise. Translation and flips make the paper's augmentation meaningful; the
    distractor makes the task non-trivial."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 1, (classes, 3, 4, 4)).astype(np.float32))
    templates = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).numpy()  # [K,3,S,S]

    def make(n):
        y = rng.integers(0, classes, n)
        other = (y + rng.integers(1, classes, n)) % classes
        x = 0.55 * templates[y] + 0.45 * templates[other]
        for i in range(n):  # random translation (wrap-around) and horizontal flip
            x[i] = np.roll(x[i], tuple(rng.integers(-6, 7, 2)), axis=(1, 2))
            if rng.random() < 0.5:
                x[i] = x[i][:, :, ::-1]
        x = x + rng.normal(0, 0.12, x.shape).astype(np.float32)
        x = np.clip(x * 255, 0, 255).astype(np.uint8)
        return rearrange(x, "n c h w -> n h w c"), y.astype(np.int64)

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return xtr, ytr, xte, yte


def load_cifar10(data_dir: str | None = None, data_path: str = "", source: str = "auto", val_size: int = 5000,
                 train_size: int = 0, test_size: int = 0, split_seed: int = 0, synthetic_sizes=(5000, 1000)
                 ) -> ImageSplits:
    """CIFAR-10 split into train / val / test (§4.2: 45k/5k). ``train_size`` > 0 keeps a random
    subset of the training part; ``test_size`` > 0 a fixed subset of the test set (both for the
    reduced-scale presets). The val split is a fixed permutation of ``split_seed``."""
    found = find_cifar10(data_dir, data_path, source)
    if found is None:
        xtr, ytr, xte, yte = synthetic_cifar(*synthetic_sizes, seed=split_seed)
        name = "synthetic"
    else:
        xtr, ytr, xte, yte, name = found
    if xtr.shape[1:] != (32, 32, 3) and name != "synthetic":
        raise ValueError(f"CIFAR-10 images must be 32x32 RGB, got {xtr.shape[1:]} from {name}")
    if val_size >= len(xtr):
        raise ValueError(f"val_size {val_size} leaves no training images out of {len(xtr)}; lower --set val_size")
    g = np.random.default_rng(split_seed)
    perm = g.permutation(len(xtr))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_size:
        train_idx = train_idx[:train_size]
    test_idx = np.arange(len(xte)) if not test_size else g.permutation(len(xte))[:test_size]
    return ImageSplits(_to_tensor(xtr[train_idx]), torch.from_numpy(ytr[train_idx]),
                       _to_tensor(xtr[val_idx]), torch.from_numpy(ytr[val_idx]),
                       _to_tensor(xte[test_idx]), torch.from_numpy(yte[test_idx]), name)


# -- preprocessing and augmentation (§4.2) ---------------------------------------------------

def per_pixel_mean(x: torch.Tensor, scale: float = 1 / 255) -> torch.Tensor:
    """The mean training image [3, H, W] ("per-pixel mean", §4.2), in units of ``x * scale``."""
    return x.double().mean(0).mul(scale).float()


def normalize(x: torch.Tensor, mean: torch.Tensor, scale: float = 1 / 255) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float, ``x * scale - mean``."""
    return x.float() * scale - mean


def augment(x: torch.Tensor, pad: int = 4, flip: bool = True, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """§4.2 / [24]: pad ``pad`` zeros on each side, take a random HxW crop, flip half the images
    horizontally. ``x`` is the mean-subtracted float batch [B, C, H, W], so zero padding is padding
    with the mean image. Draws from torch's RNG (or ``generator``)."""
    B, C, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))                                        # [B, C, H+2p, W+2p]
    dy = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=x.device)
    rows = dy[:, None] + torch.arange(H, device=x.device)                        # [B, H]
    cols = dx[:, None] + torch.arange(W, device=x.device)                        # [B, W]
    if flip:
        mirror = torch.rand(B, generator=generator, device=x.device) < 0.5
        cols = torch.where(mirror[:, None], cols.flip(1), cols)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]         # [B, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()                                 # [B, C, H, W]


def cifar_dataset(x: torch.Tensor, y: torch.Tensor) -> TensorDataset:
    return TensorDataset(x, y)


# -- ImageNet (§3.4) ---------------------------------------------------------------------------

# AlexNet's PCA colour augmentation [21] (eigen-decomposition of ImageNet RGB covariance, as in
# fb.resnet.torch), applied to [0,1] pixels.
IMAGENET_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])  # per-channel; the paper subtracts the per-pixel mean


class ImageFolder(Dataset):
    """ImageNet in the usual layout: ``<root>/<split>/<wnid>/<image>.JPEG`` (val re-sorted into class
    folders). Training items follow §3.4: the shorter side resized at random in [256, 480], a random
    224x224 crop or its flip, PCA colour noise, mean subtracted. Eval items: shorter side 256, the
    centre 224 crop (or the 10 crops of §3.4 with ``ten_crop``).

    Decoding runs in data-loader workers for speed, so, unlike CIFAR, the augmentation draws after
    a ``--resume`` differ from an uninterrupted run (the order of images and the weights do not)."""

    EXTS = (".jpeg", ".jpg", ".png")

    def __init__(self, root: str | Path, split: str = "train", train: bool = True, scale=(256, 480),
                 crop: int = 224, ten_crop: bool = False, test_size: int = 256):
        self.root = Path(root) / split
        if not self.root.is_dir():
            raise FileNotFoundError(f"no ImageNet folder {self.root}: expected <imagenet root>/{split}/<wnid>/*.JPEG "
                                    f"(set --set imagenet_root=PATH)")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        self.samples = [(str(p), i) for i, c in enumerate(self.classes) for p in sorted((self.root / c).iterdir())
                        if p.suffix.lower() in self.EXTS]
        if not self.samples:
            raise FileNotFoundError(f"no images under {self.root}/<class>/")
        self.train, self.scale, self.crop, self.ten_crop, self.test_size = train, scale, crop, ten_crop, test_size

    def __len__(self) -> int:
        return len(self.samples)

    def _resize(self, img, short: int):
        w, h = img.size
        s = short / min(w, h)
        return img.resize((max(self.crop, round(w * s)), max(self.crop, round(h * s))), resample=2)  # bilinear

    def __getitem__(self, i):
        from PIL import Image

        path, label = self.samples[i]
        img = Image.open(path).convert("RGB")
        c = self.crop
        if self.train:
            img = self._resize(img, random.randint(*self.scale))         # scale augmentation [256, 480]
            w, h = img.size
            x0, y0 = random.randint(0, w - c), random.randint(0, h - c)
            x = torch.from_numpy(np.asarray(img.crop((x0, y0, x0 + c, y0 + c)), dtype=np.float32) / 255)
            x = rearrange(x, "h w c -> c h w")
            if random.random() < 0.5:
                x = x.flip(-1)
            alpha = torch.randn(3) * 0.1                                   # colour augmentation [21]
            x = x + (IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL))[:, None, None]
            return x - IMAGENET_MEAN[:, None, None], label
        img = self._resize(img, self.test_size)
        x = rearrange(torch.from_numpy(np.asarray(img, dtype=np.float32) / 255), "h w c -> c h w")
        x = x - IMAGENET_MEAN[:, None, None]
        H, W = x.shape[1:]
        if not self.ten_crop:
            t, l = (H - c) // 2, (W - c) // 2
            return x[:, t:t + c, l:l + c], label
        corners = [((H - c) // 2, (W - c) // 2), (0, 0), (0, W - c), (H - c, 0), (H - c, W - c)]
        crops = [x[:, t:t + c, l:l + c] for t, l in corners]
        return torch.stack(crops + [v.flip(-1) for v in crops]), label      # [10, 3, c, c]

