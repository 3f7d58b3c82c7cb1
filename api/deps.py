"""Injectables as `Annotated` aliases: routes declare what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import ApiSettings
from api.state import ServingState


def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


StateDep = Annotated[ServingState, Depends(get_state)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
