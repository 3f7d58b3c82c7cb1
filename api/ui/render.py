"""Templates: one Jinja2 environment, the page frame's common facts, and the filters.

Templates hold loops and formatting only; a route hands `render` a plain dict.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from api.ui.assets import asset_url

TEMPLATES = Path(__file__).with_name("templates")
NAV = (  # (path, label): the page order of the issue
    ("/ui/", "Overview"),
    ("/ui/customers", "Customer 360"),
    ("/ui/models", "Models"),
    ("/ui/segments", "Segments"),
    ("/ui/experiments", "Experiments"),
    ("/ui/cx", "Customer experience"),
    ("/ui/cases", "Cases"),
    ("/ui/rules", "Rules"),
    ("/ui/operations", "Operations"),
)


def number(value: Any, digits: int = 0) -> str:
    """Thousands separated; `–` for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def percent(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def age(iso: str | None) -> str:
    """How long ago an ISO 8601 time was: `3 h 05 min ago`."""
    if not iso:
        return "–"
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h ago"
    if hours:
        return f"{hours} h {rest // 60:02d} min ago"
    return f"{rest // 60} min ago" if rest >= 60 else f"{rest} s ago"


def plot_json(value: Any) -> Markup:
    """Plot data embedded in a `<script type="application/json">`: `<` escaped, so no
    value can close the element."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, percent=percent, age=age, plot_json=plot_json)
    env.globals.update(asset=asset_url, nav=NAV)
    return env


def render(
    template: str, context: dict[str, Any], *, frame: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `template` with `context`, inside the frame (who, banners, CSRF token)."""
    html = environment().get_template(template).render(**frame, **context)
    headers = {
        "cache-control": "no-store",
        # everything the pages load is their own: no CDN, no inline script but JSON data
        "content-security-policy": "default-src 'self'; script-src 'self'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }
    return HTMLResponse(html, status_code=status_code, headers=headers)
