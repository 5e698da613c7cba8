"""Chen et al.'s ODE-Net row: torchdiffeq's MNIST network trained with the adjoint, a row of
the MNIST speed benchmark that the reproduction report reads (issues 18 and 20)."""

import json

from test_benchmarks import load

from nodebook_utils import reproduce

ADJOINT = "reference network, dopri5 tol 1e-3 + adjoint"


def test_adjoint_row_trains_with_the_adjoint_and_the_report_reads_it(tmp_path):
    path = tmp_path / "adjoint.json"
    load("mnist_speed").main(["--quick", "--epochs", "1", "--steps", "2", "--limit", "512",
                              "--test-images", "64", "--only", ADJOINT,
                              "--timing-steps", "2",
                              "--weights", str(tmp_path / "w"), "--json", str(path)])
    result = json.loads(path.read_text(encoding="utf-8"))
    assert result["benchmark"] == "mnist_speed"
    resnet, adjoint = result["rows"]
    assert adjoint["name"] == ADJOINT and adjoint["parameters"] == 208_266
    assert adjoint["nfe_backward"] > 0  # the adjoint solves backwards; backprop counts none
    rows = {r["claim"]: r for r in reproduce.report(reproduce.load([path]))["claims"]}
    ode_net = rows["Table 1: ODE-Net test error"]
    assert ode_net["measured"] is not None and ode_net["verdict"] == "not comparable"
    assert rows["Table 1: RK-Net test error"]["verdict"] == "not measured"  # row not run
