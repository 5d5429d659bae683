"""Digit images for the accuracy tier: sklearn's 8x8 digits (offline) and real MNIST IDX files.

Every loader returns ``(images, labels)``: ``images`` float64 of shape ``(n, height, width)`` scaled to
[0, 1] (0 = background, 1 = full ink), ``labels`` int64 of shape ``(n,)`` in 0..9.

* :func:`load_sklearn_digits`: the 1797 UCI digits shipped with scikit-learn (8x8, integer values
  0..16, made by counting ink pixels in 4x4 blocks of a 32x32 bitmap); scaled by 1/16.
* :func:`read_idx` / :func:`load_mnist_idx`: the MNIST IDX format (LeCun et al.), optionally gzipped.
  Only a user's local files are read; nothing is downloaded.
* :func:`mnist_to_8x8`: brings 28x28 MNIST to the 8x8 digits' geometry (pad to 32x32, 4x4 block mean),
  the same construction as the UCI digits, so the shipped 8x8 model can be driven by MNIST images.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from snnval.errors import SpecError

#: IDX magic numbers (big-endian int32): 0x00000803 = unsigned bytes, 3 dims (images);
#: 0x00000801 = unsigned bytes, 1 dim (labels).
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

#: Fixed seed of the project's train / held-out split of the sklearn digits.
SPLIT_SEED = 20260101
N_HELD_OUT = 400


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 sklearn 8x8 digits, images in [0, 1] (value / 16), labels 0..9. No network access."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.asarray(d.images, dtype=np.float64) / 16.0
    return images, np.asarray(d.target, dtype=np.int64)


def split_indices(n: int, n_held_out: int = N_HELD_OUT, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of ``range(n)``: (train indices, held-out indices), each sorted.

    Rule: ``perm = np.random.default_rng(seed).permutation(n)``; held-out = ``perm[:n_held_out]``.
    """
    if not 0 < n_held_out < n:
        raise SpecError("split_indices", "n_held_out", f"an integer in [1, {n - 1}], got {n_held_out}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_held_out:]), np.sort(perm[:n_held_out])


def _open_maybe_gz(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open  # gzip is recognised by content, not by suffix
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError) as exc:
        raise SpecError(str(path), "file", f"a readable IDX file, optionally gzipped ({exc})") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST images or labels), optionally gzip-compressed.

    Layout: two zero bytes, a type byte (0x08 = uint8; other types are refused), a byte with the number
    of dimensions, then one big-endian uint32 per dimension, then the data in C order. Returns a uint8
    array of those dimensions. Raises SpecError on a bad magic, a truncated file or trailing bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), "path", "an existing IDX file")
    raw = _open_maybe_gz(path)
    if len(raw) < 4:
        raise SpecError(str(path), "header", f"at least 4 header bytes, got {len(raw)}")
    if raw[0] != 0 or raw[1] != 0:
        raise SpecError(str(path), "magic", f"two leading zero bytes, got {raw[:4].hex()}")
    if raw[2] != 0x08:
        raise SpecError(str(path), "magic", f"data type 0x08 (unsigned byte), got 0x{raw[2]:02x}")
    ndim = raw[3]
    if ndim < 1:
        raise SpecError(str(path), "magic", "at least one dimension")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SpecError(str(path), "header", f"{ndim} dimension sizes ({header} bytes), file has {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n_bytes = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != n_bytes:
        raise SpecError(str(path), "data", f"{n_bytes} data bytes for dims {dims}, got {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _magic(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        return int.from_bytes(fh.read(4), "big")


def load_mnist_idx(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from a user's IDX files (e.g. ``t10k-images-idx3-ubyte[.gz]``): images / 255 in [0, 1], labels.

    The image file must have magic 2051 and 3 dimensions (n, rows, cols); the label file magic 2049 and
    one dimension of the same n.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    for p, magic in ((images_path, IDX_IMAGES_MAGIC), (labels_path, IDX_LABELS_MAGIC)):
        if not p.is_file():
            raise SpecError(str(p), "path", "an existing IDX file")
        got = _magic(p)
        if got != magic:
            raise SpecError(str(p), "magic", f"{magic} (0x{magic:08x}), got {got} (0x{got:08x})")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise SpecError(str(images_path), "dims", f"3 dimensions (n, rows, cols), got {images.ndim}")
    if labels.shape != (images.shape[0],):
        raise SpecError(str(labels_path), "dims", f"one dimension of {images.shape[0]} labels, got {labels.shape}")
    if labels.size and labels.max() > 9:
        raise SpecError(str(labels_path), "data", f"labels 0..9, found {labels.max()}")
    return images.astype(np.float64) / 255.0, labels.astype(np.int64)


def mnist_to_8x8(images: np.ndarray) -> np.ndarray:
    """28x28 images in [0, 1] -> 8x8 in [0, 1]: pad 2 pixels each side to 32x32, then 4x4 block means.

    This is how the UCI/sklearn digits were made (ink counts in 4x4 blocks of a 32x32 bitmap), so MNIST
    reaches the shipped 8x8 model on the same scale; the digits' normalisation (size, centring) differs,
    so expect a lower accuracy than on the held-out digits.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise SpecError("mnist_to_8x8", "images", f"an (n, 28, 28) array, got shape {images.shape}")
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return padded.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
