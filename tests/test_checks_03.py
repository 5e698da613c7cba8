"""Checkers of 03_residual_networks: a correct answer passes, a wrong one fails with a hint."""

import torch
from torch import nn
from torch.nn import functional as F

from nodebook_utils import checks
from nodebook_utils.resnets import ResidualBlock


def lines(capsys):
    return capsys.readouterr().out.splitlines()


class Block(nn.Module):
    """A correct solution written differently from the package's (names, order, options)."""

    def __init__(self, c_in, c_out, stride=1, *, proj_bias=False, final_relu=True, skip=True,
                 always_identity_when_same_channels=False):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        same = c_in == c_out and (stride == 1 or always_identity_when_same_channels)
        self.proj = None if same else nn.Conv2d(c_in, c_out, 1, stride, bias=proj_bias)
        self.final_relu, self.skip = final_relu, skip

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        if self.skip:
            out = out + (x if self.proj is None else self.proj(x))
        return F.relu(out) if self.final_relu else out


def test_residual_block_passes_correct_solutions(capsys):
    assert checks.check_residual_block("ex", Block)
    assert checks.check_residual_block("ex", ResidualBlock)
    assert lines(capsys) == ["PASS ex"] * 2


def test_residual_block_placeholder(capsys):
    class Todo(nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()
            raise NotImplementedError

    assert not checks.check_residual_block("ex", Todo)
    assert lines(capsys) == ["FAIL ex: not implemented yet: replace the raise with your code"]


def test_residual_block_hints(capsys):
    wrong = [
        lambda a, b, s: Block(a, b, s, proj_bias=True),
        lambda a, b, s: Block(a, b, s, final_relu=False),
        lambda a, b, s: Block(a, b, s, skip=False),
        lambda a, b, s: Block(a, b, s, always_identity_when_same_channels=True),
        lambda a, b, s: nn.Conv2d(a, b, 3, s, 1),
    ]
    for factory in wrong:
        assert not checks.check_residual_block("ex", factory)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: block(8, 16, stride=1)") and "bias=False" in out[0]
    assert "ReLU after the addition" in out[1]
    assert out[2].startswith("FAIL ex: block(8, 8, stride=1)") and "add the input x" in out[2]
    assert out[3].startswith("FAIL ex: block(16, 16, stride=2) raised RuntimeError")
    assert "the shortcut needs W_s" in out[3]
    assert "parameters, expected" in out[4]


def test_residual_block_projection_without_relu_or_with_wrong_stride(capsys):
    class NoReluProjection(Block):
        def forward(self, x):
            out = self.conv2(F.relu(self.conv1(x)))
            return out + (x if self.proj is None else self.proj(x)) if self.proj else F.relu(
                out + x)

    assert not checks.check_residual_block("ex", NoReluProjection)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: block(8, 16, stride=1)") and "relu(W_s x)" in out[0]


def test_block_parameter_count(capsys):
    # ResidualBlock(16, 32, 2): 32 (9*16 + 1) + 32 (9*32 + 1) + 16*32 = 4640 + 9248 + 512
    assert checks.check_block_parameter_count("ex", 14_400, 16, 32, 2)
    assert checks.check_block_parameter_count("ex", 2 * 16 * (9 * 16 + 1), 16, 16, 1)
    for answer in (..., 13_888, 14_432, 14_336, 9248 * 2 + 512, 4640 * 2 + 512, 1):
        assert not checks.check_block_parameter_count("ex", answer, 16, 32, 2)
    out = lines(capsys)
    assert out[:2] == ["PASS ex", "PASS ex"]
    assert out[2].startswith("FAIL ex: no answer yet")
    assert "add the projection" in out[3]
    assert "has no bias" in out[4]
    assert "one bias per output channel" in out[5]
    assert "first convolution maps a -> b" in out[6]
    assert "second convolution maps b -> b" in out[7]
    assert "add b(9a + 1)" in out[8]


def test_checker_leaves_the_learners_own_block_untouched():
    """A learner may hand over a factory that returns a block they already built: the checker
    zeroes weights to test the shortcut, but on a copy, never on the learner's block."""
    torch.manual_seed(0)
    mine = Block(8, 16, 2)
    before = [p.clone() for p in mine.parameters()]
    checks.check_residual_block("ex", lambda a, b, s: mine if (a, b, s) == (8, 16, 2) else
                                Block(a, b, s))
    assert all(torch.equal(a, b) for a, b in zip(before, mine.parameters(), strict=True))


# ------------------------------------------------------------------- check_residual_growth


def test_residual_growth_passes_the_formula_and_a_simulation_free_variant(capsys):
    assert checks.check_residual_growth("ex", lambda s2, blocks: (1 + s2) ** blocks)
    assert checks.check_residual_growth("ex", lambda s2, blocks: torch.tensor(1 + s2) ** blocks)
    assert lines(capsys) == ["PASS ex"] * 2


def test_residual_growth_matches_a_simulation():
    """The formula the checker wants is what linear residual blocks do, on average."""
    torch.manual_seed(0)
    n, trials, sigma2, blocks = 32, 4000, 0.5, 6
    x0 = torch.randn(trials, n)
    x = x0
    for _ in range(blocks):
        w = torch.randn(trials, n, n) * (sigma2 / n) ** 0.5
        x = x + (w @ x.unsqueeze(-1)).squeeze(-1)
    measured = (x.pow(2).sum(1) / x0.pow(2).sum(1)).mean().item()
    assert abs(measured / (1 + sigma2) ** blocks - 1) < 0.05


def test_residual_growth_hints(capsys):
    import math

    wrong = [
        lambda s2, L: (_ for _ in ()).throw(NotImplementedError),
        lambda s2, L: ...,
        lambda s2, L: 1 + L * s2,
        lambda s2, L: s2**L,
        lambda s2, L: (1 + math.sqrt(s2)) ** (2 * L),
        lambda s2, L: (1 + s2) ** (L / 2),
        lambda s2, L: (1 + s2) ** (L + 1),
        lambda s2, L: (1 + 2 * s2) ** L,
        lambda s2, L: 2.0**L,
        lambda s2, L: "big",
        lambda s2, L: 3.0,
    ]
    for fn in wrong:
        assert not checks.check_residual_growth("ex", fn)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert "no answer yet" in out[1]
    assert out[2].startswith("FAIL ex: sigma2 = 0.25, 12 blocks") and "compound" in out[2]
    assert "skip connection keeps x" in out[3]
    assert "norms do not add" in out[4]
    assert "square root" in out[5]
    assert "one per block" in out[6]
    assert "cross term" in out[7]
    assert "depends on sigma2" in out[8]
    assert "return one number" in out[9]
    assert "expand E||x + W x||^2" in out[10]
    assert not any("(1 + sigma2)" in line for line in out)  # the formula is not given away
