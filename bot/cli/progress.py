"""Progress bars for long work in the terminal: one per stream, fed from several threads."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class SyncProgress:
    """A rich progress bar per stream, fed by the sync's progress callback from several threads."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._bars = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
            disable=quiet,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> SyncProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def __call__(self, stream: str, advanced: int, total: int | None) -> None:
        with self._lock:
            if stream not in self._tasks:
                self._tasks[stream] = self._bars.add_task(stream, total=total)
            self._bars.update(self._tasks[stream], advance=advanced, total=total)
