"""CX insights: journey map, scores with intervals, drivers, themes and sentiment (pure)."""
