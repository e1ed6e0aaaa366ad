"""``python -m bot.cli``: the ``tally`` command without the console script (tests and child processes use it)."""

from bot.cli import main

main()
