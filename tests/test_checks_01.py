"""Checkers of 01_discrete_convolution: a correct answer passes, a wrong one fails with a hint."""

import pytest
import torch
import torch.nn.functional as F

from nodebook_utils import checks


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def conv2d_loops(x, weight, stride=1, padding=0):
    """A correct loop implementation (what the exercise asks for)."""
    x = F.pad(x, (padding,) * 4)
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    out = torch.zeros(n, c_out, (h - kh) // stride + 1, (w - kw) // stride + 1, dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, weight)
    return out


def test_check_conv2d_passes_correct_solutions(capsys):
    assert checks.check_conv2d("ex", conv2d_loops)
    assert checks.check_conv2d("ex", F.conv2d)

    def float32_output(x, weight, stride=1, padding=0):
        return conv2d_loops(x.float(), weight.float(), stride, padding)

    assert checks.check_conv2d("ex", float32_output)
    assert lines(capsys) == ["PASS ex"] * 3


def test_check_conv2d_placeholder_and_errors(capsys):
    def todo(x, weight, stride=1, padding=0):
        raise NotImplementedError

    def nothing(x, weight, stride=1, padding=0):
        return ...

    def broken(x, weight, stride=1, padding=0):
        return x @ weight

    assert not checks.check_conv2d("ex", todo)
    assert not checks.check_conv2d("ex", nothing)
    assert not checks.check_conv2d("ex", broken)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert out[1].startswith("FAIL ex: your function returned nothing")
    assert out[2].startswith("FAIL ex: case 0") and "raised RuntimeError" in out[2]


def test_check_conv2d_names_the_flip(capsys):
    def true_convolution(x, weight, stride=1, padding=0):
        return conv2d_loops(x, weight.flip(-2, -1), stride, padding)

    assert not checks.check_conv2d("ex", true_convolution)
    (line,) = lines(capsys)
    assert line.startswith("FAIL ex: case 0") and "flipped the kernel" in line


def test_check_conv2d_hints_at_padding_stride_and_channels(capsys):
    def no_padding(x, weight, stride=1, padding=0):
        out = conv2d_loops(x, weight, stride, 0)
        return F.pad(out, (padding,) * 4)  # right shape, wrong values

    def ignores_stride(x, weight, stride=1, padding=0):
        return conv2d_loops(x, weight, 1, padding)[:, :, ::stride, ::stride][
            :, :, : (x.shape[2] + 2 * padding - weight.shape[2]) // stride + 1,
            : (x.shape[3] + 2 * padding - weight.shape[3]) // stride + 1] * (1 + (stride > 1))

    def first_channel_only(x, weight, stride=1, padding=0):
        return conv2d_loops(x[:, :1], weight[:, :1], stride, padding)

    def wrong_shape(x, weight, stride=1, padding=0):
        return conv2d_loops(x, weight, 1, padding)

    assert not checks.check_conv2d("ex", no_padding)
    assert not checks.check_conv2d("ex", ignores_stride)
    assert not checks.check_conv2d("ex", first_channel_only)
    assert not checks.check_conv2d("ex", wrong_shape)
    pad, stride, chan, shape = lines(capsys)
    assert "case 2" in pad and "padding 1" in pad and "zeros on every side" in pad
    assert "case 3" in stride and "starts at input (i * s, j * s)" in stride
    assert "case 1" in chan and "input channels" in chan
    assert "case 3" in shape and "output shape (1, 3, 6, 7), expected (1, 3, 3, 4)" in shape


MNIST_STEM = [(3, 1, 0), (4, 2, 1), (4, 2, 1)]


def test_check_output_sizes(capsys):
    assert checks.check_output_sizes("sizes", [26, 13, 6], 28, MNIST_STEM)
    assert checks.check_output_sizes("one", 14, 28, [(4, 2, 1)])
    assert checks.check_output_sizes("dilated", (24,), 28, [(3, 1, 0, 2)])
    assert not checks.check_output_sizes("sizes", ..., 28, MNIST_STEM)
    assert not checks.check_output_sizes("sizes", [26, 13], 28, MNIST_STEM)
    assert not checks.check_output_sizes("sizes", [26, 12, 5], 28, MNIST_STEM)  # no padding
    assert not checks.check_output_sizes("sizes", [26, 13, 7], 28, MNIST_STEM)  # rounded up
    assert not checks.check_output_sizes("sizes", [25, 13, 6], 28, MNIST_STEM)  # no + 1
    assert not checks.check_output_sizes("sizes", [26, 13, 6.5], 28, MNIST_STEM)
    assert not checks.check_output_sizes("dilated", 26, 28, [(3, 1, 0, 2)])
    assert not checks.check_output_sizes("sizes", [26, 13, ...], 28, MNIST_STEM)
    out = lines(capsys)
    assert out[:3] == ["PASS sizes", "PASS one", "PASS dilated"]
    assert "no answer yet" in out[3] and "give 3 sizes" in out[4]
    assert out[5].startswith("FAIL sizes: layer 2 (k=4, s=2, p=1) on an input of size 26")
    assert "forget the padding" in out[5]
    assert "layer 3" in out[6] and "round down" in out[6]
    assert "layer 1" in out[7] and "+ 1" in out[7]
    assert "layer 3" in out[8] and "floor(" in out[8]
    assert "d (k - 1) + 1" in out[9] and "layer 3: no answer yet" in out[10]
    assert "13" not in out[5]  # the hint does not give the answer away


def test_check_receptive_field(capsys):
    assert checks.check_receptive_field("rf", 7, [3, 3, 3])
    assert checks.check_receptive_field("rf", 12, [3, 4, 4], [1, 2, 2])
    assert checks.check_receptive_field("rf", 15, [3, 3, 3], dilations=[1, 2, 4])
    assert not checks.check_receptive_field("rf", ..., [3, 3, 3])
    assert not checks.check_receptive_field("rf", 9, [3, 4, 4], [1, 2, 2])  # strides ignored
    assert not checks.check_receptive_field("rf", 21, [3, 4, 4], [1, 2, 2])  # own stride
    assert not checks.check_receptive_field("rf", 9, [3, 3, 3])  # sum of kernels
    assert not checks.check_receptive_field("rf", 5, [3, 3, 3])
    out = lines(capsys)
    assert out[:3] == ["PASS rf"] * 3
    assert "no answer yet" in out[3]
    assert "product of the strides before it" in out[4]
    assert "*before* a layer" in out[5]
    assert "not k" in out[6] and "start from r = 1" in out[7]


def test_check_impulse_response(capsys):
    kernel = [1.0, 2.0, 3.0]
    assert checks.check_impulse_response("ex", [0, 0, 3, 2, 1, 0, 0], kernel, 7, 3, padding=1)
    assert checks.check_impulse_response("ex", torch.tensor([3.0, 2, 1, 0, 0]), kernel, 7, 2)
    assert not checks.check_impulse_response("ex", ..., kernel, 7, 3, padding=1)
    assert not checks.check_impulse_response("ex", [0, 0, 1, 2, 3, 0, 0], kernel, 7, 3, padding=1)
    assert not checks.check_impulse_response("ex", [0, 0, 0, 3, 2, 1, 0], kernel, 7, 3, padding=1)
    assert not checks.check_impulse_response("ex", [0, 3, 2, 1, 0], kernel, 7, 3, padding=1)
    assert not checks.check_impulse_response("ex", [1] * 7, kernel, 7, 3, padding=1)
    assert not checks.check_impulse_response("ex", "0 0 3 2 1 0 0", kernel, 7, 3, padding=1)
    out = lines(capsys)
    assert out[:2] == ["PASS ex"] * 2
    assert "no answer yet" in out[2]
    assert "true convolution" in out[3] and "flips the kernel" in out[3]
    assert "wrong place" in out[4]
    assert "5 values" in out[5] and "floor((n + 2p - k) / s) + 1" in out[5]
    assert "only the j that puts the 1" in out[6]
    assert "list of numbers" in out[7]
    assert not any("3, 2, 1" in line for line in out)  # no hint gives the answer away


def test_check_impulse_response_agrees_with_conv1d_for_other_settings(capsys):
    for length, position, padding in [(5, 0, 0), (6, 5, 2), (9, 4, 1)]:
        kernel = [0.5, -1.0, 2.0, 4.0]
        x = torch.zeros(1, 1, length)
        x[0, 0, position] = 1.0
        right = F.conv1d(x, torch.tensor(kernel).view(1, 1, -1), padding=padding).flatten()
        assert checks.check_impulse_response("ex", right.tolist(), kernel, length, position,
                                             padding=padding)
    assert lines(capsys) == ["PASS ex"] * 3


def test_check_impulse_response_refuses_a_position_outside_the_signal():
    with pytest.raises(ValueError, match="outside"):
        checks.check_impulse_response("ex", [0.0], [1.0], 3, 3)
