"""Outbound webhooks about follow-up cases: configuration, signing, retry policy (pure)."""
