"""Checkers of 02_convolutional_networks: a correct answer passes, a wrong one fails with a hint."""

from torch import nn

from nodebook_utils import checks


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def lenet_stack():
    """C(1, 6, 5) -> ReLU -> P(6, 6, 2) -> C(6, 16, 5) -> ReLU -> P(16, 16, 2)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    )


def test_conv_parameters_passes_the_formula(capsys):
    assert checks.check_conv_parameters("ex", lambda a, b, f: b * (a * f * f + 1))
    assert lines(capsys) == ["PASS ex"]


def test_conv_parameters_placeholder_and_errors(capsys):
    def todo(a, b, f):
        raise NotImplementedError

    assert not checks.check_conv_parameters("ex", todo)
    assert not checks.check_conv_parameters("ex", lambda a, b, f: ...)
    assert not checks.check_conv_parameters("ex", lambda a, b, f: 1 / 0)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert out[1].startswith("FAIL ex: no answer yet")
    assert out[2].startswith("FAIL ex: C(1, 16, 5) raised ZeroDivisionError")


def test_conv_parameters_names_the_slip(capsys):
    assert not checks.check_conv_parameters("ex", lambda a, b, f: b * a * f * f)
    assert not checks.check_conv_parameters("ex", lambda a, b, f: b * (f * f + 1))
    assert not checks.check_conv_parameters("ex", lambda a, b, f: a * b * f * f + a)
    assert not checks.check_conv_parameters("ex", lambda a, b, f: 7)
    out = lines(capsys)
    assert "add the biases" in out[0]
    # C(1, 16, 5) has a single input channel, so the first case that tells them apart is 2nd
    assert out[1].startswith("FAIL ex: C(16, 32, 5)") and "all alpha input channels" in out[1]
    assert "per *output* channel" in out[2]
    assert "count weights" in out[3]


def test_stack_shape_passes(capsys):
    assert checks.check_stack_shape("ex", (16, 4, 4), lenet_stack(), (1, 28, 28))
    assert checks.check_stack_shape("ex", [16, 4, 4], lenet_stack(), (1, 28, 28))
    assert lines(capsys) == ["PASS ex"] * 2


def test_stack_shape_hints(capsys):
    stack, shape = lenet_stack(), (1, 28, 28)
    answers = [..., (1, 16, 4, 4), (6, 4, 4), (16, 7, 7), (16, 20, 20), "abc",
               (16, 3, 3)]
    for answer in answers:
        assert not checks.check_stack_shape("ex", answer, stack, shape)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: no answer yet")
    assert "leave out the batch dimension" in out[1]
    assert "number of channels" in out[2]
    assert "shrinks the height and width by f - 1" in out[3]
    assert "divides the height and width by p" in out[4]
    assert "three numbers" in out[5]
    assert "layer by layer" in out[6]


def test_stack_shape_rounding_hint_on_odd_sizes(capsys):
    stack = nn.Sequential(nn.Conv2d(1, 4, 4), nn.MaxPool2d(2))  # 30 -> 27 -> 13
    assert checks.check_stack_shape("ex", (4, 13, 13), stack, (1, 30, 30))
    assert not checks.check_stack_shape("ex", (4, 14, 14), stack, (1, 30, 30))
    out = lines(capsys)
    assert out[0] == "PASS ex" and "rounds down" in out[1]


def test_gradient_growth_passes_the_derivation(capsys):
    assert checks.check_gradient_growth("ex", 1.5 ** 19, 1.5, 20)
    assert checks.check_gradient_growth("ex", 2.0 ** 4, 2.0, 5)
    assert checks.check_gradient_growth("ex", 0.5 ** 9, 0.5, 10)  # shrinking weights too
    assert lines(capsys) == ["PASS ex"] * 3


def test_gradient_growth_names_the_slip(capsys):
    answers = [..., 1.5, 1.5 ** 20, 1.5 ** 18, 1.5 ** 38, 1.5 * 19, 7.0, "1.5 ** 19", -1.0]
    for answer in answers:
        assert not checks.check_gradient_growth("ex", answer, 1.5, 20)
    out = lines(capsys)
    assert "no answer yet" in out[0]
    assert "one layer" in out[1]
    assert "one factor too many" in out[2] and "not W_1" in out[2]
    assert "one factor too few" in out[3]
    assert "ReLU slopes" in out[4]
    assert "multiply" in out[5]
    assert "diag(relu'(z_l))" in out[6]
    assert "one number" in out[7] and "positive" in out[8]


def test_gradient_growth_matches_a_measured_network(capsys):
    """The derived factor is what scaling does to the backward product: check it on a small
    ReLU network with zero biases, where the error signal at the output is held fixed."""
    import torch

    torch.manual_seed(0)
    depth, gain = 6, 1.5
    weights = [torch.randn(8, 8) / 8 ** 0.5 * 2 ** 0.5 for _ in range(depth)]
    x = torch.randn(4, 8)

    def backward_ratio(scale):
        zs, h = [], x
        for w in weights:
            z = h @ (scale * w).T
            zs.append(z)
            h = torch.relu(z)
        delta = torch.ones_like(zs[-1])  # the same error signal at the output
        for layer in range(depth - 1, 0, -1):
            delta = (delta @ (scale * weights[layer])) * (zs[layer - 1] > 0)
        return float(delta.norm())

    measured = backward_ratio(gain) / backward_ratio(1.0)
    assert checks.check_gradient_growth("ex", measured, gain, depth)
    assert lines(capsys) == ["PASS ex"]
