"""The scalar contract of `Value` (its documented behaviour), example by example."""

import math
import sys

import pytest

from tinygrad_edu import AnomalyError, PathLimitError, Value, detect_anomaly, no_grad, trace


def test_design_example():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    y = (a * b + 1).tanh()
    y.backward()
    t = math.tanh(-5.0)
    assert y.op == "tanh"
    assert isinstance(y.parents, tuple) and all(isinstance(p, Value) for p in y.parents)
    assert y.local_grads == pytest.approx((1 - t * t,))
    assert a.grad == pytest.approx((1 - t * t) * -3.0)
    assert b.grad == pytest.approx((1 - t * t) * 2.0)
    assert isinstance(a.grad, float)


def test_repeated_operand_keeps_two_edges():
    a = Value(3.0)
    y = a * a
    assert y.parents == (a, a)
    assert y.local_grads == (3.0, 3.0)
    y.backward()
    assert a.grad == 6.0
    assert len(trace(y).edges) == 2


def test_backward_twice_accumulates_on_leaves_only():
    a = Value(1.5)
    h = a.tanh()
    y = h * 2
    y.backward()
    first_a, first_h = a.grad, h.grad
    y.backward()
    assert a.grad == pytest.approx(2 * first_a)
    assert h.grad == pytest.approx(first_h)  # intermediates hold this pass's gradient
    a.zero_grad()
    assert a.grad == 0.0
    y.zero_grad()
    assert a.grad == 0.0 and h.grad == 0.0 and y.grad == 0.0


def test_ieee_semantics_never_raise():
    assert Value(1000.0).exp().data == math.inf
    assert math.isnan(Value(-1.0).log().data)
    assert Value(0.0).log().data == -math.inf
    assert (Value(1.0) / 0).data == math.inf
    assert math.isnan((Value(0.0) / 0).data)
    assert math.isnan((Value(-8.0) ** (1 / 3)).data)
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(1e200) * 1e200).data == math.inf
    y = Value(0.0).sqrt()
    y.backward()
    assert y.local_grads[0] == math.inf
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(-1000.0).softplus().data == 0.0
    assert Value(1000.0).softplus().data == 1000.0


def test_anomaly_forward_names_op_and_inputs():
    x = Value(-1.0, label="x")
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        x.log()
    assert info.value.op == "log" and info.value.phase == "forward"
    assert "x=-1" in str(info.value)


def test_anomaly_backward_names_edge():
    x = Value(0.0, label="x")
    y = x.sqrt() * 0.0 + x.sqrt()
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        y.backward()
    assert info.value.phase == "backward" and info.value.op == "sqrt"
    # the edge x → sqrt, its local 1/(2√0) = inf and the upstream 1 that met it
    assert "non-finite gradient on the edge x → sqrt (operand 0 of op 'sqrt')" in str(info.value)
    assert "local inf × upstream 1 = inf" in str(info.value)


def test_no_grad_records_no_parents():
    a = Value(2.0)
    with no_grad():
        y = a * 3
    assert y.parents == () and y.local_grads == ()
    y2 = a * 3
    assert y2.parents[0] is a


def test_deep_chain_under_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x = Value(0.3)
    y = x
    n = 100_000
    for _ in range(n):
        y = y * 0.9999 + 0.0
    y.backward()
    assert x.grad == pytest.approx(0.9999**n, rel=1e-9)
    g = trace(y)
    # per link: a constant, ×, a constant, +
    assert len(g.nodes) == 4 * n + 1 and g.depth[x] == 2 * n


def test_paths_sum_to_gradient_and_limit():
    x = Value(0.7, label="x")
    y = x
    for _ in range(12):
        y = y * y  # 2**12 paths
    y.backward()
    g = trace(y)
    assert g.count_paths(x) == 2**12
    with pytest.raises(PathLimitError) as info:
        g.paths(x, limit=100)
    assert info.value.count == 4096
    paths = g.paths(x, limit=5000)
    assert math.fsum(p.product for p in paths) == pytest.approx(x.grad, rel=1e-9)


def test_chain_rule_text_format():
    x = Value(0.5, label="x")
    L = x.sigmoid().tanh()
    L.label = "L"
    L.backward()
    text = trace(L).chain_rule_text(x)
    first = text.splitlines()[0]
    assert first.startswith("dL/dx = ")
    s = 1 / (1 + math.exp(-0.5))
    expected = (1 - math.tanh(s) ** 2) * s * (1 - s)
    assert f"{expected:.3g}" in first
    assert "×" in first


@pytest.mark.parametrize("bad", ["abc", None, [1, 2], {"a": 1}, 1j, object()])
def test_bad_data_is_a_type_error(bad):
    with pytest.raises(TypeError) as info:
        Value(bad)
    assert "Value" in str(info.value)


@pytest.mark.parametrize("bad", ["2", None, [2]])
def test_bad_exponent_is_a_type_error(bad):
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** bad


def test_bad_operand_is_a_type_error():
    with pytest.raises(TypeError, match=r"'\+'"):
        Value(1.0) + "x"


def test_repr_is_readable():
    h = Value(1.0).tanh()
    h.label = "h1"
    assert repr(h) == "Value(data=0.7616, grad=0, op='tanh', label='h1')"  # tanh 1 = 0.761594...


def test_the_engine_creates_no_reference_cycles():
    import gc

    import numpy as np

    from tinygrad_edu import Tensor

    def build_and_drop():
        x = Value(0.5)
        y = x
        for _ in range(200):
            y = (y * 1.01 + x).tanh()
        y.backward()
        g = trace(y)
        list(g.backward_steps())
        t = Tensor(np.ones((3, 2)), requires_grad=True)
        loss = ((t @ Tensor(np.ones((2, 4)))).relu().sum() + t.sigmoid().mean()) * 2
        loss.backward()
        trace(loss)

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        build_and_drop()
        # Reference counting alone must have freed everything: the collector finds nothing.
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
