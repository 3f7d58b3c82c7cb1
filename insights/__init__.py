"""Customer-experience insights: journey, scores with intervals, drivers, themes and sentiment,
follow-up cases and survey decisions; pure (no Redis, no HTTP)."""
