"""The fall detector's CNN member: scored with numpy as PyTorch fitted it, and its windows
free of the sensor's orientation. The real recordings whose answer it changes are in
test_falls_recordings.py (FALLS_FOUND_WITH_THE_CNN, ADL_CLEAN_WITH_THE_CNN)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.falls import cnn_scores, cnn_windows, internal_signal
from analytics.params import load
from bench.falls_cnn import check_windows


def shipped_net(late: bool) -> dict:
    """The ±2 s net, or the late one (-2 to +4 s) that confirms with 4 s after the impact."""
    params = load("falls")["cnn"]
    return params["late"] if late else params


@pytest.mark.parametrize("late", [False, True], ids=["2-s net", "late net"])
def test_numpy_scores_match_what_torch_gave_at_the_fit(late: bool) -> None:
    """The runtime scorer is a few numpy lines; torch (the ``fit`` extra, not installed in
    CI) fitted the weights and stored its own logits on fixed windows beside them."""
    params = shipped_net(late)
    p = cnn_scores(params, check_windows(late))
    stored = np.asarray(params["torch_check_logits"])
    assert np.ptp(stored) > 1.0  # windows that the net tells apart
    np.testing.assert_allclose(np.log(p / (1 - p)), stored, atol=1e-4, rtol=0)


@pytest.mark.parametrize("late", [False, True], ids=["2-s net", "late net"])
def test_numpy_scores_match_torch_now(late: bool) -> None:
    """Where torch is installed, the same against a fresh torch forward pass."""
    pytest.importorskip("torch")
    from bench.falls_cnn import torch_probability

    params = shipped_net(late)
    x = check_windows(late)
    np.testing.assert_allclose(cnn_scores(params, x), torch_probability(params, x), atol=1e-5)


def test_windows_do_not_depend_on_how_the_band_sits_on_the_wrist() -> None:
    """Every channel is a magnitude or an angle: turning the sensor frame changes nothing."""
    rng = np.random.default_rng(3)
    t = np.arange(0, 10, 1 / 50)
    acc = np.column_stack([0.1 * np.sin(t), 0.2 * np.cos(2 * t), np.ones_like(t)])
    acc += rng.normal(0, 0.05, acc.shape)
    acc[250:253] += [2.0, 1.0, 1.5]  # an impact at 5 s
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    turned = acc @ q.T
    assert np.allclose(internal_signal(acc, 50) @ q.T, internal_signal(turned, 50), atol=1e-9)
    for after_s in (2.0, 4.0):  # the ±2 s net's window and the late net's
        np.testing.assert_allclose(
            cnn_windows(acc, 50, [5.0], after_s), cnn_windows(turned, 50, [5.0], after_s), atol=1e-4
        )
