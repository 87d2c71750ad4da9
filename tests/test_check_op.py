"""check_op: every built-in rule passes it (the built-ins are the tool's test suite), and planted
bugs — a wrong sign, a 1 % error, an error only outside [−3, 3], a wrong shape, a mutated input or
upstream — are caught with a readable report."""

import numpy as np
import pytest
from hypothesis import strategies as st

from tinygrad_edu import (
    RULES,
    ShapeError,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    concatenate,
    cross_entropy,
    mse_loss,
    op,
    stack,
)
from tinygrad_edu import ops as user_ops
from tinygrad_edu.jacobians import Local
from tinygrad_edu.testing import OpCheckError, check_op, shapes

EXAMPLES = 8  # per rule: 35 rules stay within a few seconds


def one_shape(**bounds):
    return shapes(**bounds).map(lambda s: (s,))


def matmul_shapes():
    sides = st.integers(1, 3)
    return st.tuples(sides, sides, sides).map(lambda nkm: ((nkm[0], nkm[1]), (nkm[1], nkm[2])))


#: How each built-in rule is checked: check_op's fn and settings. Elementwise rules are checked by
#: name (Value and Tensor, broadcasting, complex step where the maths is analytic); tensor rules
#: through the method that builds them.
BUILTINS = {
    "add": ("add", dict(complex_step=True)),
    "sub": ("sub", dict(complex_step=True)),
    "mul": ("mul", dict(complex_step=True)),
    "div": ("div", dict(domain=("real", "positive"), complex_step=True)),
    "pow": ("pow", dict(domain=("positive", "real"), complex_step=True)),
    "pow_const": ("pow_const", dict(constant=3.0, complex_step=True)),
    "neg": ("neg", dict(complex_step=True)),
    "exp": ("exp", dict(complex_step=True)),
    "log": ("log", dict(domain="positive", complex_step=True)),
    "sqrt": ("sqrt", dict(domain="positive", complex_step=True)),
    "tanh": ("tanh", dict(complex_step=True)),
    "sigmoid": ("sigmoid", {}),
    "relu": ("relu", dict(exclude=0)),
    "leaky_relu": ("leaky_relu", dict(exclude=0, constant=0.1)),
    "softplus": ("softplus", {}),
    "log_sigmoid": ("log_sigmoid", {}),
    "abs": ("abs", dict(exclude=0)),
    "sin": ("sin", dict(complex_step=True)),
    "cos": ("cos", dict(complex_step=True)),
    "matmul": (lambda a, b: a @ b, dict(shapes=matmul_shapes(), scalar=False)),
    "sum": (lambda x: x.sum(axis=0), dict(shapes=one_shape(min_dims=1), scalar=False)),
    "mean": (lambda x: x.mean(axis=-1, keepdims=True), dict(shapes=one_shape(min_dims=1), scalar=False)),
    "max": (lambda x: x.max(axis=0), dict(shapes=one_shape(min_dims=1), scalar=False, distinct=True)),
    "logsumexp": (lambda x: x.logsumexp(axis=-1), dict(shapes=one_shape(min_dims=1), scalar=False)),
    "reshape": (lambda x: x.reshape(-1), dict(scalar=False)),
    "transpose": (lambda x: x.transpose(), dict(scalar=False)),
    "getitem": (lambda x: x[np.array([0, 0, -1])], dict(shapes=one_shape(min_dims=1), scalar=False)),
    "concatenate": (lambda a, b: concatenate([a, b], axis=0), dict(shapes=((2, 3), (1, 3)), scalar=False)),
    "stack": (lambda a, b: stack([a, b], axis=1), dict(shapes=((2, 3), (2, 3)), scalar=False)),
    "softmax": (lambda x: x.softmax(axis=-1), dict(shapes=one_shape(min_dims=1), scalar=False)),
    "log_softmax": (lambda x: x.log_softmax(axis=-1), dict(shapes=one_shape(min_dims=1), scalar=False)),
    "mse_loss": (mse_loss, dict(shapes=((3, 2), (3, 2)), scalar=False)),
    "binary_cross_entropy": (
        binary_cross_entropy,
        dict(shapes=((4,), (4,)), domain="unit", scalar=False),
    ),
    "binary_cross_entropy_with_logits": (
        binary_cross_entropy_with_logits,
        dict(shapes=((4,), (4,)), domain=("real", "unit"), scalar=False),
    ),
    "cross_entropy": (
        lambda logits: cross_entropy(logits, np.array([0, 2, 1])),
        dict(shapes=((3, 4),), scalar=False),
    ),
}


def test_every_built_in_rule_has_a_check():
    builtins = {name for name in RULES if name not in user_ops.USER_OPS}
    assert builtins == set(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_built_in_rule_passes_check_op(name):
    fn, settings = BUILTINS[name]
    result = check_op(fn, max_examples=EXAMPLES, **settings)
    assert result.examples >= EXAMPLES
    assert "gradient" in result.checks


def test_float32_ops_keep_their_dtype_and_agree_with_float64():
    result = check_op("tanh", dtype=np.float32, max_examples=EXAMPLES)
    assert "float32" in result.checks


# --- planted bugs -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def forget_user_ops():
    yield
    for name in list(user_ops.USER_OPS):
        user_ops.remove(name)


def softsign_with(local):
    @op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",), replace=True)
    def softsign(m, x):
        d = 1 + m.abs(x)
        return x / d, (local(m, x, d),)

    return softsign


def test_a_correct_user_op_passes():
    softsign = softsign_with(lambda m, x, d: 1 / (d * d))
    result = check_op(softsign, exclude=0, domain=(-50, 50), max_examples=15)
    assert result.checks == ("mutation", "gradient", "scalar vs tensor")


def test_a_wrong_sign_is_caught_and_named():
    softsign = softsign_with(lambda m, x, d: -1 / (d * d))
    with pytest.raises(OpCheckError) as caught:
        check_op(softsign, max_examples=15)
    error = caught.value
    assert (error.op, error.check, error.position) == ("softsign", "gradient", 0)
    assert error.analytic == pytest.approx(-error.numeric, rel=1e-4)  # the sign, not the size
    text = str(error)
    assert "analytic" in text and "numeric" in text and "input 0 =" in text and "upstream =" in text


def test_a_one_percent_error_is_caught():
    softsign = softsign_with(lambda m, x, d: 1.01 / (d * d))
    with pytest.raises(OpCheckError) as caught:
        check_op(softsign, max_examples=15)
    assert caught.value.analytic / caught.value.numeric == pytest.approx(1.01, rel=1e-4)


def test_an_error_only_outside_three_needs_the_wider_domain():
    def local(m, x, d):
        return m.where(m.abs(x) > 3.0, 0.5, 1.0) / (d * d)  # wrong only for |x| > 3

    softsign = softsign_with(local)
    check_op(softsign, max_examples=15)  # the default domain [−3, 3] cannot see it
    with pytest.raises(OpCheckError) as caught:
        check_op(softsign, domain=(-50, 50), max_examples=30)
    error = caught.value
    assert error.check == "gradient"
    assert error.analytic == pytest.approx(0.5 * error.numeric, rel=1e-3)


def test_a_wrong_shape_is_refused_at_the_op():
    @op("square", forward="x²", locals=("2x",))
    def square(m, x):
        local = 2 * x
        return x * x, (local if m.__name__ == "ScalarMath" else np.stack([local, local], axis=-1),)

    with pytest.raises(ShapeError, match="'square'.*local ∂out/∂x has shape .*2,?\\)"):
        check_op(square, max_examples=15)


def test_a_mutated_input_is_caught():
    @op("double_in_place", forward="2x", locals=("2",))
    def double_in_place(m, x):
        if isinstance(x, np.ndarray):
            np.multiply(x, 2, out=x)  # the bug: writes into the caller's input
            return x.copy(), (2.0,)
        return 2 * x, (2.0,)

    with pytest.raises(OpCheckError, match="input 0 was changed") as caught:
        check_op(double_in_place, max_examples=15)
    assert caught.value.check == "mutation"


class Scales(Local):
    """∂(c·x)/∂x for a tensor-only op, whose __mul__ (the bug) scales the upstream in place."""

    def __mul__(self, upstream):
        upstream *= 3.0
        return upstream

    def summary(self):
        return "3·"


def test_a_mutated_upstream_is_caught():
    @op("triple", forward="3x", locals=("3",), elementwise=False)
    def triple(m, x):
        return 3.0 * x, (Scales(),)

    with pytest.raises(OpCheckError, match="upstream gradient was changed") as caught:
        check_op(triple, max_examples=15, shapes=((3,),))
    assert caught.value.check == "mutation"


def test_complex_step_catches_a_subtle_error_finite_differences_blur():
    @op("cube", forward="x³", locals=("3x²",))
    def cube(m, x):
        return x * x * x, (3 * x * x + 1e-7,)  # far below gradcheck's tolerance

    check_op(cube, max_examples=10)
    with pytest.raises(OpCheckError) as caught:
        check_op(cube, complex_step=True, atol=1e-9, rtol=1e-9, eps=1e-4, max_examples=10)
    assert caught.value.check == "complex step"
    assert caught.value.analytic - caught.value.numeric == pytest.approx(1e-7, rel=1e-3)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="domain"):
        check_op("tanh", domain=(3, -3))
    with pytest.raises(ValueError, match="unknown domain"):
        check_op("tanh", domain="everything")
    with pytest.raises(ValueError, match="no rule named"):
        check_op("nope")
    with pytest.raises(ValueError, match="complex_step"):
        check_op(lambda x: x.tanh(), complex_step=True)
