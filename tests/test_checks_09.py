"""Checkers of 09_ecg_resnet_vs_node: a correct answer passes, a wrong one fails with a hint."""

import torch

from nodebook_utils import checks
from nodebook_utils.training import classification_report


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def metrics(m):
    r = classification_report(m)
    return tuple(torch.tensor(r[k], dtype=torch.float64) for k in ("precision", "recall", "f1"))


def test_per_class_metrics_pass_with_the_package_report(capsys):
    assert checks.check_per_class_metrics("ex", metrics)
    assert lines(capsys) == ["PASS ex"]


def test_per_class_metrics_name_the_slip(capsys):
    def swapped(m):
        p, r, f = metrics(m)
        return r, p, f

    def arithmetic(m):
        p, r, _ = metrics(m)
        return p, r, (p + r) / 2

    def nan_on_empty(m):
        m = m.double()
        p, r = m.diagonal() / m.sum(0), m.diagonal() / m.sum(1)
        return p, r, 2 * p * r / (p + r)

    def unimplemented(m):
        raise NotImplementedError

    def crashes(m):
        return m[99]

    for fn in (swapped, arithmetic, nan_on_empty, unimplemented, crashes, lambda m: None):
        assert not checks.check_per_class_metrics("ex", fn)
    out = lines(capsys)
    assert "swapped" in out[0]
    assert "harmonic mean" in out[1]
    assert "NaN" in out[2]
    assert "not implemented yet" in out[3]
    assert "raised IndexError" in out[4]
    assert "no answer yet" in out[5]


def test_heart_rate(capsys):
    assert checks.check_heart_rate("ex", lambda n, fs: 72 * fs / n)
    assert not checks.check_heart_rate("ex", lambda n, fs: 60 * fs / n)
    assert not checks.check_heart_rate("ex", lambda n, fs: 60 * n / fs)
    assert not checks.check_heart_rate("ex", lambda n, fs: ...)
    out = lines(capsys)
    assert out[0] == "PASS ex"
    assert "1.2 R-R" in out[1]
    assert "seconds = samples / fs" in out[2]
    assert "no answer yet" in out[3]


def test_majority_baseline(capsys):
    def right(train, test):
        return (test == torch.bincount(train).argmax()).double().mean().item()

    def right_with_mode(train, test):
        return (test == torch.mode(train).values).float().mean()

    def peeks(train, test):
        return (test == torch.bincount(test).argmax()).double().mean().item()

    def pools(train, test):  # lets the test labels vote: the slip the exercise warns against
        return (test == torch.bincount(torch.cat([train, test])).argmax()).double().mean().item()

    def scores_train(train, test):
        return (train == torch.bincount(train).argmax()).double().mean().item()

    def counts(train, test):
        return (test == torch.bincount(train).argmax()).sum().item()

    assert checks.check_majority_baseline("ex", right)
    assert checks.check_majority_baseline("ex", right_with_mode)
    for wrong in (peeks, pools, scores_train, counts, lambda train, test: None):
        assert not checks.check_majority_baseline("ex", wrong)
    out = lines(capsys)
    assert out[:2] == ["PASS ex", "PASS ex"]
    assert "peeking" in out[2] and "training labels" in out[2]
    assert "pooling" in out[3] and "peeking" in out[3]
    assert "share of the training labels" in out[4]
    assert "fraction" in out[5]
    assert "no answer yet" in out[6]


def test_majority_cases_catch_pooled_labels():
    """Some case has a pooled (train + test) majority that is not the training majority, so
    the pooled answer cannot pass by luck."""
    from nodebook_utils.checks.ecg_resnet_vs_node import _majority_cases

    differ = [int(torch.bincount(torch.cat([tr, te])).argmax()) != int(torch.bincount(tr).argmax())
              for tr, te in _majority_cases()]
    assert sum(differ) >= 2
