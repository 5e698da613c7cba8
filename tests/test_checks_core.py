"""checks.expect: the guard before a sentence that states what a run shows."""

import pytest

from nodebook_utils.checks import expect


def test_expect_fails_the_notebook_when_the_run_contradicts_the_text():
    expect(True, "never shown")
    with pytest.raises(AssertionError, match="contradicts the lesson's text: the ResNet is faster"):
        expect(False, "the ResNet is faster")
