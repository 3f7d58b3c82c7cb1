"""Customer-experience insights: follow-up cases from feedback, scores, journeys, comments."""
