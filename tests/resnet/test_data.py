"""CIFAR-10 readers (python batches, class-per-folder zip/tree), the §4.2 augmentation, the embedded default."""
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from papers.resnet.data import (augment, load_cifar10, normalize, per_pixel_mean, read_cifar_path,
                                synthetic_cifar)


def write_batches(folder, n=6, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}))
    return folder


def write_image_zip(path, per_class=2, classes=("cat", "dog", "ship")):
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for split in ("train", "test"):
            for c in classes:
                for i in range(per_class):
                    buf = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
                    zf.writestr(f"{split}/{c}/{i:04d}.png", buf.getvalue())
    return path


def test_read_python_batches(tmp_path):
    folder = write_batches(tmp_path / "cifar-10-batches-py")
    xtr, ytr, xte, yte = read_cifar_path(folder)
    assert xtr.shape == (30, 32, 32, 3) and xte.shape == (6, 32, 32, 3) and xtr.dtype == np.uint8
    raw = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"][0]
    assert np.array_equal(xtr[0, :, :, 0].ravel(), raw[:1024])  # channel-major rows -> HWC


def test_read_class_folder_zip_and_split(tmp_path):
    z = write_image_zip(tmp_path / "cifar.zip")
    s = load_cifar10(data_path=str(z), val_size=2)
    assert s.source.startswith("path:")
    assert s.x_train.shape == (4, 3, 32, 32) and s.x_val.shape == (2, 3, 32, 32) and s.x_test.shape[0] == 6
    assert s.x_train.dtype == torch.uint8
    assert sorted(torch.cat([s.y_train, s.y_val]).tolist()) == [0, 0, 1, 1, 2, 2]


def test_read_class_folder_tree(tmp_path):
    z = write_image_zip(tmp_path / "cifar.zip")
    zipfile.ZipFile(z).extractall(tmp_path / "tree")
    xtr, ytr, xte, yte = read_cifar_path(tmp_path / "tree")
    xtr_z, ytr_z, _, _ = read_cifar_path(z)
    assert np.array_equal(xtr, xtr_z) and np.array_equal(ytr, ytr_z) and xte.shape == (6, 32, 32, 3)


def test_bad_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_path"):
        read_cifar_path(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="train/<class>"):
        read_cifar_path(tmp_path / "empty")


def test_embedded_default_when_no_data(no_data_env):
    s = load_cifar10(val_size=100, synthetic_sizes=(600, 200))
    assert s.source == "synthetic"
    assert s.x_train.shape == (500, 3, 32, 32) and s.x_test.shape == (200, 3, 32, 32)
    a = synthetic_cifar(50, 10, seed=3)
    b = synthetic_cifar(50, 10, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert set(np.unique(a[1])) <= set(range(10))


def test_per_pixel_mean_and_normalize():
    x = torch.randint(0, 256, (7, 3, 4, 4), dtype=torch.uint8)
    mean = per_pixel_mean(x, 1 / 255)
    assert mean.shape == (3, 4, 4)
    assert torch.allclose(normalize(x, mean).mean(0), torch.zeros(3, 4, 4), atol=1e-5)


def test_augment_is_pad_crop_flip():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 8, 8)
    y = augment(x, pad=4)
    assert y.shape == x.shape
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(64):  # every output is a window of the padded image or of its mirror
        hits = [torch.equal(y[i], img[:, r:r + 8, c:c + 8]) for img in (padded[i], padded[i].flip(-1))
                for r in range(9) for c in range(9)]
        assert any(hits), i
    flipped = sum(not torch.equal(y[i], padded[i][:, 4:12, 4:12]) for i in range(64))
    assert flipped > 40  # almost all were shifted and/or mirrored


def test_augment_uses_torch_rng():
    x = torch.randn(16, 3, 32, 32)
    torch.manual_seed(5)
    a = augment(x)
    torch.manual_seed(5)
    assert torch.equal(a, augment(x))
    assert torch.equal(augment(x, pad=0, flip=False), x)
