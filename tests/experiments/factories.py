"""Builders for experiment definitions used across the experiments tests."""

from __future__ import annotations

from typing import Any

from experiments.model import Experiment, parse_experiment


def definition(key: str = "home-recs", weights: tuple[float, ...] = (50, 50), **extra: Any) -> dict:
    """A valid running two-or-more variant definition as a plain dict (the YAML/JSON shape)."""
    names = ["control"] + [f"v{i}" for i in range(1, len(weights))]
    data: dict[str, Any] = {
        "key": key,
        "status": "running",
        "control": "control",
        "variants": [
            {
                "name": n,
                "weight": w,
                "strategy": {"model": "live" if n == "control" else "popularity"},
            }
            for n, w in zip(names, weights, strict=True)
        ],
    }
    data.update(extra)
    return data


def experiment(
    key: str = "home-recs", weights: tuple[float, ...] = (50, 50), **extra: Any
) -> Experiment:
    return parse_experiment(definition(key, weights, **extra))
