"""Exercise checkers of 09_ecg_resnet_vs_node (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .core import Verdict, _as_float64, _call, _Hint, checker, report

__all__ = ["check_heart_rate", "check_majority_baseline", "check_per_class_metrics"]


def _metric_cases() -> list[torch.Tensor]:
    """Confusion matrices (rows true, columns predicted): random ones, one with a class that
    is never predicted and one with a class that never occurs (09_ecg_resnet_vs_node)."""
    gen = torch.Generator().manual_seed(9)
    cases = [torch.randint(0, 50, (k, k), generator=gen) for k in (2, 3, 5)]
    never_predicted = torch.randint(1, 30, (4, 4), generator=gen)
    never_predicted[:, 2] = 0
    never_occurs = torch.randint(1, 30, (5, 5), generator=gen)
    never_occurs[3, :] = 0
    return [*cases, never_predicted, never_occurs]


def _reference_metrics(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = m.to(torch.float64)
    tp, predicted, actual = m.diagonal(), m.sum(0), m.sum(1)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-300),
                     torch.zeros_like(tp))
    return precision, recall, f1


@checker
def check_per_class_metrics(name: str, fn: Callable[..., Any], *, atol: float = 1e-9) -> Verdict:
    """Check ``fn(confusion) -> (precision, recall, f1)``, one value per class, for confusion
    matrices with rows = true class and columns = predicted class; a class with no
    predictions (or no members) gets 0, not NaN. The hint names the likely slip: rows and
    columns swapped, F1 as an arithmetic mean, a division by zero (09_ecg_resnet_vs_node)."""
    no_answer = "no answer yet: return the tuple (precision, recall, f1)"
    for i, m in enumerate(_metric_cases()):
        where = f"case {i} ({m.shape[0]} classes)"
        try:
            got = _call(fn, m.clone(), where=where, nothing=no_answer)
            if not isinstance(got, tuple | list) or len(got) != 3:
                raise _Hint("return three tensors: (precision, recall, f1)")
            precision, recall, f1 = (_as_float64(x, where) for x in got)
        except _Hint as exc:
            return report(name, False, str(exc))
        want_p, want_r, want_f = _reference_metrics(m)
        k = m.shape[0]
        if any(x.shape != (k,) for x in (precision, recall, f1)):
            return report(name, False, f"{where}: return one value per class, shape ({k},)")
        if any(torch.isnan(x).any() for x in (precision, recall, f1)):
            return report(name, False, f"{where}: NaN where a class was never predicted or "
                          "never occurs: define 0/0 as 0 there (torch.where)")

        def close(a: torch.Tensor, b: torch.Tensor) -> bool:
            return bool(torch.allclose(a, b, rtol=0.0, atol=atol))

        if close(precision, want_r) and close(recall, want_p) and not close(want_p, want_r):
            return report(name, False, f"{where}: precision and recall are swapped: rows are "
                          "the true classes, so recall divides by a row sum, precision by a "
                          "column sum")
        if not close(precision, want_p):
            return report(name, False, f"{where}: precision of class c = confusion[c, c] / "
                          "(sum of column c), the beats predicted c")
        if not close(recall, want_r):
            return report(name, False, f"{where}: recall of class c = confusion[c, c] / "
                          "(sum of row c), the beats that are c")
        if not close(f1, want_f):
            if close(f1, (want_p + want_r) / 2):
                return report(name, False, f"{where}: F1 is the harmonic mean "
                              "2 p r / (p + r), not the arithmetic mean")
            return report(name, False, f"{where}: F1 = 2 p r / (p + r), and 0 where p + r = 0")
    return report(name, True)


def _heart_rate_reference(length: float, fs: float, factor: float = 1.2) -> float:
    return 60.0 * fs * factor / length


@checker
def check_heart_rate(name: str, fn: Callable[..., Any], *, rtol: float = 1e-6) -> Verdict:
    """Check ``fn(length, fs) -> beats per minute``: a beat cut as 1.2 median R-R intervals
    lasts ``length`` samples at ``fs`` Hz, so R-R = length / (1.2 fs) seconds and the heart
    rate is 60 / R-R (09_ecg_resnet_vs_node)."""
    cases = [(100, 125.0), (187, 125.0), (90, 360.0), (150, 250.0)]
    for i, (length, fs) in enumerate(cases):
        where = f"case {i} (length {length} samples at {fs:g} Hz)"
        try:
            got = _call(fn, length, fs, where=where, nothing="no answer yet: return the rate")
            got = float(_as_float64(got, where))
        except (_Hint, TypeError) as exc:
            return report(name, False, str(exc) or f"{where}: return a number")
        want = _heart_rate_reference(length, fs)
        if abs(got - want) <= rtol * want:
            continue
        if abs(got - _heart_rate_reference(length, fs, 1.0)) <= rtol * want:
            return report(name, False, f"{where}: the beat is 1.2 R-R intervals long, so "
                          "R-R = length / 1.2")
        if abs(got - 60.0 * length / fs) <= rtol * max(want, 1):
            return report(name, False, f"{where}: rate = 60 / (R-R in seconds), and seconds "
                          "= samples / fs")
        return report(name, False, f"{where}: got {got:.4g} beats per minute; R-R = length / "
                      "(1.2 fs) seconds, rate = 60 / R-R")
    return report(name, True)


def _majority_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(train labels, test labels) for exercise 3, no ties in any majority. The test set's
    own majority differs from the training set's in case 0; in cases 1 and 3 the majority
    of train and test labels pooled differs from the training set's too (in case 1 it also
    differs from the test set's), so an answer that lets the test labels vote fails
    (09_ecg_resnet_vs_node)."""
    gen = torch.Generator().manual_seed(19)
    return [
        (torch.tensor([0, 0, 0, 1, 2]), torch.tensor([0, 1, 1, 1, 0, 2])),
        (torch.tensor([0, 0, 0, 1, 1]), torch.tensor([1, 1, 2, 2, 2])),
        (torch.tensor([2, 2, 1, 2, 0, 2]), torch.tensor([2, 2, 2, 0])),
        # an unbalanced set like the heartbeats: 60 beats of class 3 against 55 of class 0
        # in training, but a test set of mostly class 0 that tips the pooled count
        (torch.tensor([3] * 60 + [0] * 55 + [1] * 10), torch.tensor([0] * 20 + [3] * 5 + [1] * 2)),
        (torch.randint(0, 5, (200,), generator=gen) % 3, torch.randint(0, 5, (80,), generator=gen)),
    ]


@checker
def check_majority_baseline(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check ``fn(train_labels, test_labels) -> accuracy``: the test accuracy of a model that
    always predicts the most common class of the *training* labels. The hint names the
    likely slip: choosing the class from the test labels or from train and test pooled,
    scoring the training labels, returning a count (09_ecg_resnet_vs_node)."""
    for i, (train, test) in enumerate(_majority_cases()):
        where = f"case {i}"
        try:
            got = _call(fn, train.clone(), test.clone(), where=where,
                        nothing="no answer yet: return the accuracy, a number in [0, 1]")
            got = float(_as_float64(got, where))
        except (_Hint, TypeError) as exc:
            return report(name, False, str(exc) or f"{where}: return a number")
        majority = int(torch.bincount(train).argmax())
        want = float((test == majority).double().mean())
        if abs(got - want) < 1e-6:
            continue
        pooled = int(torch.bincount(torch.cat([train, test])).argmax())
        if pooled != majority and abs(got - float((test == pooled).double().mean())) < 1e-6:
            return report(name, False, f"{where}: count the training labels alone; pooling "
                          "them with the test labels lets the test set vote, which is peeking")
        test_majority = int(torch.bincount(test).argmax())
        if abs(got - float((test == test_majority).double().mean())) < 1e-6:
            return report(name, False, f"{where}: pick the class from the training labels; "
                          "looking at the test labels to choose is peeking")
        if abs(got - float((train == majority).double().mean())) < 1e-6:
            return report(name, False, f"{where}: that is the share of the training labels; "
                          "score the prediction on the test labels")
        if abs(got - float((test == majority).sum())) < 1e-6:
            return report(name, False, f"{where}: return a fraction of the test set, not a count")
        return report(name, False, f"{where}: predict the most common training class for every "
                      "test beat and return the share that is right")
    return report(name, True)
