"""Fitting helpers for the bench scripts: L2 logistic regression and subject-wise CV."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> dict:
    """Standardised L2-regularised logistic regression; returns JSON-ready params."""
    mean = x.mean(0)
    scale = x.std(0) + 1e-9
    z = (x - mean) / scale

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logit = z @ w[:-1] + w[-1]
        value = np.sum(np.logaddexp(0, logit) - y * logit) + l2 * np.sum(w[:-1] ** 2)
        err = 1 / (1 + np.exp(-logit)) - y
        grad = np.r_[z.T @ err + 2 * l2 * w[:-1], err.sum()]
        return float(value), grad

    w = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "weights": w[:-1].tolist(),
        "bias": float(w[-1]),
    }


def predict_logistic(params: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(params["mean"])) / np.asarray(params["scale"])
    return 1 / (1 + np.exp(-(z @ np.asarray(params["weights"]) + params["bias"])))


def leave_one_group_out(
    groups: np.ndarray,
    fit: Callable[[np.ndarray], object],
    predict: Callable[[object, np.ndarray], np.ndarray],
    n: int,
) -> np.ndarray:
    """Out-of-fold predictions: each group is predicted by a model that never saw it."""
    out = np.zeros(n)
    for g in np.unique(groups):
        test = groups == g
        model = fit(~test)
        out[test] = predict(model, test)
    return out
