"""``from_numpy``: a leaf sharing the caller's array (PyTorch's ``torch.from_numpy``), no copy."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Tensor, from_numpy
from tinygrad_edu.optim import SGD


def test_shares_memory_where_tensor_copies():
    array = np.arange(6.0).reshape(2, 3)
    shared, copied = from_numpy(array), Tensor(array)
    assert np.shares_memory(shared.data, array)
    assert not np.shares_memory(copied.data, array)
    array[0, 0] = 7.0  # the same numbers: a write into the array is seen by the tensor
    assert shared.data[0, 0] == 7.0 and copied.data[0, 0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_equal_a_hand_derivation(dtype):
    """d/dW of sum((x @ W)²) = 2 xᵀ (x @ W), computed by hand in numpy; the dtype is kept."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)
    weight = from_numpy(w.copy(), requires_grad=True)
    ((from_numpy(x) @ weight) ** 2).sum().backward()
    assert weight.grad.dtype == dtype
    np.testing.assert_allclose(weight.grad, 2 * x.T @ (x @ w), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_an_in_place_update_reaches_the_array_and_an_optimiser_step_does_not():
    w = np.array([1.0, -2.0])
    weight = from_numpy(w, requires_grad=True, label="w")
    (weight * weight).sum().backward()  # grad 2w = [2, -4]
    weight.data -= 0.25 * weight.grad  # in place: the shared array moves too
    np.testing.assert_array_equal(w, [0.5, -1.0])
    SGD([weight], lr=0.25).step()  # our optimisers write a new .data array
    np.testing.assert_array_equal(weight.data, [0.0, 0.0])
    np.testing.assert_array_equal(w, [0.5, -1.0])
    assert weight.label == "w" and weight.requires_grad and not weight.parents


@pytest.mark.parametrize(
    "data, words",
    [
        ([1.0, 2.0], "expected a numpy array, got list"),
        (np.arange(3), "dtype int64"),
        (np.ones(2, dtype=">f8"), "dtype >f8"),
        (np.ones(2, dtype=np.complex128), "dtype complex128"),
    ],
)
def test_refuses_what_it_cannot_share(data, words):
    with pytest.raises(TypeError, match=words):
        from_numpy(data)


def test_refuses_bad_flags_before_making_a_node():
    with pytest.raises(TypeError, match="requires_grad"):
        from_numpy(np.ones(2), requires_grad="yes")
    with pytest.raises(TypeError, match="label"):
        from_numpy(np.ones(2), label=3)
