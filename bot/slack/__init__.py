"""The Slack app: listeners, Block Kit, middleware, alerts and the check job they run."""
