"""Customer-experience insights: journey, scores with intervals, drivers, themes and sentiment."""
