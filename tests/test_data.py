"""The embedded MNIST data: fixed stratified split, shapes, ranges, balance, disjointness."""

from __future__ import annotations

import pytest
import torch

from eglass.data import TEST_PER_CLASS, mnist


def _rows(x, y=None):
    rows = [row.numpy().tobytes() for row in x.flatten(1)]
    return set(rows) if y is None else set(zip(rows, y.tolist(), strict=True))


@pytest.fixture(scope="module")
def splits():
    return {name: mnist(name) for name in ("train", "test", "all")}


def test_shapes_dtypes_and_range(splits):
    for name, n in (("train", 4500), ("test", 500), ("all", 5000)):
        x, y = splits[name]
        assert x.shape == (n, 1, 32, 32) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert x.min().item() == -1.0 and x.max().item() == 1.0
        assert torch.isfinite(x).all()
        # the 2-pixel padding is background (-1)
        border = torch.cat([x[..., :2, :].flatten(), x[..., -2:, :].flatten(),
                            x[..., :, :2].flatten(), x[..., :, -2:].flatten()])
        assert (border == -1).all()


def test_split_is_balanced(splits):
    assert torch.bincount(splits["test"][1], minlength=10).tolist() == [TEST_PER_CLASS] * 10
    assert torch.bincount(splits["train"][1], minlength=10).tolist() == [450] * 10


def test_train_and_test_are_disjoint_and_cover_all(splits):
    x_tr, y_tr = splits["train"]
    x_te, y_te = splits["test"]
    x_all, y_all = splits["all"]
    train, test, every = _rows(x_tr), _rows(x_te), _rows(x_all)
    assert not train & test, "a test digit also appears in train"
    assert train | test == every
    # each split keeps its labels: the union of (image, label) pairs is the full set
    assert _rows(x_tr, y_tr) | _rows(x_te, y_te) == _rows(x_all, y_all)


def test_split_is_fixed(splits):
    x1, y1 = mnist("test")
    assert torch.equal(x1, splits["test"][0]) and torch.equal(y1, splits["test"][1])
    # the documented rule: the last 50 digits of each class block are held out
    x_all, y_all = splits["all"]
    for c in (0, 9):
        block = x_all[y_all == c]
        assert torch.equal(block[-TEST_PER_CLASS:], splits["test"][0][splits["test"][1] == c])


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split must be one of"):
        mnist("validation")
