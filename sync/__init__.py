"""Tally's core: settings, API clients, cache, reconciliation, actions and audit. No Slack in here."""
