"""Customer-experience insights: journeys, CX scores, comments, follow-up and survey decisions."""
