"""Tally's Slack face (slack-bolt), the command line entry point and the processes that run it."""
