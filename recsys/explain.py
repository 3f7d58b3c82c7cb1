"""Which history item explains a recommendation: the anchor of "because you liked …".

The rule: the first anchor (the customer's history items, strongest first) whose similar
items list the recommended item, else the first anchor in its category; never the item
itself. The batch applies it to every published recommendation (`anchor_positions`), so
the request path only looks the answer up; the request path applies it itself
(`api.services.reasons`) when live events put fresher anchors in front.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

ANCHORS = 20  # history items (strongest first) a reason may name
NO_ANCHOR = 255  # the position stored for a recommendation no anchor explains


def anchor_positions(
    recs: NDArray[np.integer],
    anchors: NDArray[np.integer],
    similar: NDArray[np.integer] | None,
    categories: NDArray[np.integer],
) -> NDArray[np.uint8]:
    """For each of `recs` (item indices), the position in `anchors` (item indices, at most
    ANCHORS) of the anchor that explains it, or NO_ANCHOR. `similar`: per item its similar
    items (-1 padded; items past its end have none); `categories`: per item a category code,
    negative for none."""
    recs = np.asarray(recs, np.int64)
    anchors = np.asarray(anchors, np.int64)[:ANCHORS]
    out = np.full(len(recs), NO_ANCHOR, np.uint8)
    if not len(recs) or not len(anchors):
        return out
    listed = np.zeros((len(anchors), len(recs)), np.bool_)  # anchor a lists rec r
    if similar is not None:
        with_row = anchors < len(similar)
        rows = np.asarray(similar)[anchors[with_row]]
        listed[with_row] = (rows[:, :, None] == recs[None, None, :]).any(axis=1)
    anchor_category = categories[anchors][:, None]
    same = (anchor_category == categories[recs][None, :]) & (anchor_category >= 0)
    position = np.where(
        listed.any(axis=0),
        listed.argmax(axis=0),
        np.where(same.any(axis=0), same.argmax(axis=0), NO_ANCHOR),
    )
    found = position != NO_ANCHOR
    itself = np.zeros(len(recs), np.bool_)
    itself[found] = anchors[position[found]] == recs[found]
    out[found & ~itself] = position[found & ~itself]
    return out
