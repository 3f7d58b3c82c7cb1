"""Recommender implementations behind one interface, and a factory by name."""

from __future__ import annotations

from typing import Any

from recsys.errors import UnknownModelError
from recsys.models.base import Recommender
from recsys.models.blend import BlendRecommender
from recsys.models.ease import EASERecommender
from recsys.models.factor import ALSRecommender, BPRRecommender
from recsys.models.hybrid import LightFMRecommender
from recsys.models.knn import ItemKNNRecommender
from recsys.models.popularity import PopularityRecommender

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (
        ALSRecommender,
        BPRRecommender,
        ItemKNNRecommender,
        LightFMRecommender,
        EASERecommender,
        PopularityRecommender,
        BlendRecommender,
    )
}


def model_class(name: str) -> type[Recommender]:
    """The implementation registered under `name` (see `MODELS`)."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None


def create_model(name: str, **params: Any) -> Recommender:
    """A new, unfitted model of kind `name` with `params` over its defaults."""
    return model_class(name)(**params)


__all__ = ["MODELS", "Recommender", "create_model", "model_class"]
