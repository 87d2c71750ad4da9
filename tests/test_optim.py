"""Optimisers against their update equations written out in numpy; clipping; bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value
from tinygrad_edu.errors import GradError, ShapeError
from tinygrad_edu.optim import SGD, Adam, clip_grad_norm_, clip_grad_value_


class P:
    """The smallest parameter: numpy data and grad (what optim reads and writes)."""

    NO_GRAD = None

    def __init__(self, data, grad=None, label=""):
        self.data = np.array(data, dtype=np.float64)
        self.grad = None if grad is None else np.array(grad, dtype=np.float64)
        self.label = label


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
shapes = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)


@st.composite
def params_and_grads(draw, steps=3):
    """A few parameters and, for each of ``steps`` steps, one gradient per parameter."""
    shape_list = draw(st.lists(shapes, min_size=1, max_size=3))
    datas = [draw(hnp.arrays(np.float64, s, elements=finite)) for s in shape_list]
    grads = [[draw(hnp.arrays(np.float64, s, elements=finite)) for s in shape_list] for _ in range(steps)]
    return datas, grads


def run(optimizer_class, datas, grads, **hyper):
    params = [P(d) for d in datas]
    opt = optimizer_class(params, **hyper)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        opt.step()
    return [p.data for p in params]


@given(
    data=params_and_grads(),
    lr=st.floats(0, 1),
    momentum=st.floats(0, 0.99),
    nesterov=st.booleans(),
    weight_decay=st.floats(0, 0.5),
)
def test_sgd_matches_its_equations(data, lr, momentum, nesterov, weight_decay):
    datas, grads = data
    if momentum == 0:
        nesterov = False
    got = run(SGD, datas, grads, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    for i, w in enumerate(datas):
        w = w.copy()
        buffer = None
        for step_grads in grads:
            g = step_grads[i] + weight_decay * w
            if momentum:
                buffer = g.copy() if buffer is None else momentum * buffer + g
                g = g + momentum * buffer if nesterov else buffer
            w = w - lr * g
        np.testing.assert_allclose(got[i], w, rtol=1e-12, atol=1e-12)


@given(
    data=params_and_grads(),
    lr=st.floats(1e-4, 1),
    beta1=st.floats(0, 0.99),
    beta2=st.floats(0, 0.9999),
    eps=st.floats(1e-10, 1e-3),
    weight_decay=st.floats(0, 0.5),
)
def test_adam_matches_its_equations(data, lr, beta1, beta2, eps, weight_decay):
    datas, grads = data
    got = run(Adam, datas, grads, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    for i, w in enumerate(datas):
        w = w.copy()
        m = np.zeros_like(w)
        v = np.zeros_like(w)
        for t, step_grads in enumerate(grads, start=1):
            g = step_grads[i] + weight_decay * w
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(got[i], w, rtol=1e-10, atol=1e-12)


def test_adam_first_step_has_size_lr():
    # m̂ = g and v̂ = g² on the first step, so each entry moves by lr·g/(|g|+eps) ≈ ±lr.
    p = P([1.0, -2.0, 3.0], grad=[1e-6, -5.0, 1e4])
    Adam([p], lr=0.1, eps=1e-12).step()
    np.testing.assert_allclose(p.data, [0.9, -1.9, 2.9], rtol=1e-5)


def test_params_without_grad_are_skipped_and_keep_their_state():
    a, b = P([1.0, 2.0], grad=[1.0, 1.0]), P([5.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert np.array_equal(b.data, [5.0]) and 1 not in opt.state
    b.grad = np.array([1.0])
    opt.step()
    assert opt.state[1]["step"] == 1 and opt.state[0]["step"] == 2
    np.testing.assert_allclose(b.data, [4.9], rtol=1e-6)


def test_step_replaces_data_and_keeps_dtype():
    p = P([1.0, 2.0], grad=[0.5, 0.5])
    p.data = p.data.astype(np.float32)
    old = p.data
    SGD([p], lr=1.0).step()
    assert p.data.dtype == np.float32
    assert np.array_equal(old, [1.0, 2.0])  # the old array (held by old graphs) is untouched
    np.testing.assert_allclose(p.data, [0.5, 1.5])


def test_zero_grad_uses_each_class_no_grad():
    p, v = P([1.0], grad=[2.0]), Value(1.0)
    v.grad = 3.0
    SGD([p, v], lr=0.1).zero_grad()
    assert p.grad is None and v.grad == 0.0


def test_scalar_values_train_too():
    # minimise (w − 3)² with SGD on a Value
    w = Value(0.0, label="w")
    opt = SGD([w], lr=0.1, momentum=0.5)
    for _ in range(200):
        opt.zero_grad()
        loss = (w - 3.0) ** 2
        loss.backward()
        opt.step()
    assert isinstance(w.data, float)
    assert w.data == pytest.approx(3.0, abs=1e-6)


def test_lr_can_be_scheduled_and_is_validated():
    p = P([1.0], grad=[1.0])
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [0.5])
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0
    assert opt.lr == 0.5


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda ps: SGD(ps, lr=-0.1), "lr must be >= 0"),
        (lambda ps: SGD(ps, lr=math.inf), "lr must be finite"),
        (lambda ps: SGD(ps, lr=0.1, momentum=1.5), "momentum must be < 1"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay must be >= 0"),
        (lambda ps: Adam(ps, betas=(0.9, 1.0)), r"betas\[1\] must be < 1"),
        (lambda ps: Adam(ps, betas=(-0.1, 0.9)), r"betas\[0\] must be >= 0"),
        (lambda ps: Adam(ps, betas=0.9), "pair"),
        (lambda ps: Adam(ps, lr=-1e-3), "lr must be >= 0"),
        (lambda ps: Adam([], lr=1e-3), "empty parameter list"),
        (lambda ps: SGD(ps + ps, lr=0.1), "more than once"),
    ],
)
def test_bad_hyper_parameters_raise_value_error(make, match):
    ps = [P([1.0, 2.0], grad=[1.0, 1.0])]
    with pytest.raises(ValueError, match=match):
        make(ps)
    assert np.array_equal(ps[0].data, [1.0, 2.0])


def test_bad_params_raise_type_error():
    with pytest.raises(TypeError, match="iterable"):
        SGD(3, lr=0.1)
    with pytest.raises(TypeError, match="not a parameter"):
        SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD([P([1.0])], lr="0.1")


def test_a_bad_grad_aborts_the_step_before_anything_changes():
    good, bad = P([1.0, 2.0], grad=[1.0, 1.0]), P([1.0, 2.0], grad=[1.0, 1.0, 1.0], label="w")
    opt = SGD([good, bad], lr=0.1, momentum=0.9)
    with pytest.raises(ShapeError, match=r"'w'.*\(2,\).*\(3,\)"):
        opt.step()
    assert np.array_equal(good.data, [1.0, 2.0]) and opt.state == {}


# --- clipping -------------------------------------------------------------------------


@st.composite
def grads_only(draw):
    shape_list = draw(st.lists(shapes, min_size=1, max_size=3))
    big = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    return [P(np.zeros(s), grad=draw(hnp.arrays(np.float64, s, elements=big))) for s in shape_list]


@given(params=grads_only(), max_norm=st.floats(0, 1e3), norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_clip_grad_norm_bounds_the_norm_and_keeps_the_direction(params, max_norm, norm_type):
    before = [p.grad.copy() for p in params]
    flat = np.concatenate([g.ravel() for g in before])
    expected_total = float(np.linalg.norm(flat, ord=norm_type))
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert total == pytest.approx(expected_total, rel=1e-9, abs=1e-12)
    after = np.concatenate([p.grad.ravel() for p in params])
    assert np.linalg.norm(after, ord=norm_type) <= max_norm * (1 + 1e-9) + 1e-300
    if total <= max_norm:
        assert np.array_equal(after, flat)  # untouched
    else:
        # same direction: after = c · before with one c = max_norm / total for every entry
        np.testing.assert_allclose(after, flat * (max_norm / total), rtol=1e-12, atol=1e-300)
        assert np.linalg.norm(after, ord=norm_type) == pytest.approx(max_norm, rel=1e-9, abs=1e-12)


def test_clip_grad_norm_skips_missing_grads_and_handles_values():
    a, b = P([0.0, 0.0], grad=[3.0, 4.0]), P([1.0])
    v = Value(0.0)
    v.grad = 12.0
    total = clip_grad_norm_([a, b, v], max_norm=6.5)
    assert total == pytest.approx(13.0)
    np.testing.assert_allclose(a.grad, [1.5, 2.0])
    assert b.grad is None and v.grad == pytest.approx(6.0)


def test_clip_grad_norm_replaces_the_grad_array():
    shared = np.array([3.0, 4.0])
    p = P([0.0, 0.0])
    p.grad = shared  # a gradient array that another node might also hold
    clip_grad_norm_([p], 1.0)
    assert np.array_equal(shared, [3.0, 4.0])
    np.testing.assert_allclose(p.grad, [0.6, 0.8])


def test_clip_grad_norm_with_non_finite_grads_leaves_them_and_reports():
    p = P([0.0, 0.0], grad=[np.inf, 1.0])
    assert clip_grad_norm_([p], 1.0) == math.inf
    np.testing.assert_array_equal(p.grad, [np.inf, 1.0])  # left as they were, not scaled by 1/inf
    q = P([0.0], grad=[np.nan])
    assert math.isnan(clip_grad_norm_([q], 1.0))
    assert math.isnan(q.grad[0])
    with pytest.raises(
        GradError, match="clip_grad_norm_: the total gradient norm is inf; gradients left unchanged"
    ):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad, [np.inf, 1.0])


@pytest.mark.parametrize("bad", [math.inf, math.nan, -1.0])
def test_clip_thresholds_must_be_finite_and_non_negative(bad):
    p = P([0.0, 0.0], grad=[3.0, 4.0])
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([p], bad)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([p], bad)
    assert np.array_equal(p.grad, [3.0, 4.0])


@given(params=grads_only(), clip=st.floats(0, 1e3))
def test_clip_grad_value_clamps_every_entry(params, clip):
    before = [p.grad.copy() for p in params]
    clip_grad_value_(params, clip)
    for p, g in zip(params, before):
        assert np.all(np.abs(p.grad) <= clip)
        np.testing.assert_array_equal(p.grad, np.clip(g, -clip, clip))
