"""A local SMTP server for `./run start`: `python -m app mail-sink --port 8026`. Every message it
receives is written to <data dir>/mail/<n>.eml (n counts up); nothing is relayed anywhere."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToFolder:
    """aiosmtpd handler: one .eml file per message, numbered."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        numbers = [int(p.stem) for p in self.folder.glob("*.eml") if p.stem.isdigit()]
        self._next = max(numbers, default=0) + 1

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            path = self.folder / f"{self._next}.eml"
            self._next += 1
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        path.write_bytes(data)
        return "250 Message accepted for delivery"


def serve(folder: Path, host: str = "127.0.0.1", port: int = 8026) -> None:
    controller = Controller(SaveToFolder(folder), hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()
