"""A log handler that SIGTERMs its own process when a worker logs "Started worker-N".

That line comes just before the worker's loop runs: the signal lands in the moment
where uvloop used to drop it (handlers added, loop not running yet).
"""

from __future__ import annotations

import logging
import os
import signal


class SignalOnStarted(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Started worker-"):
            os.kill(os.getpid(), signal.SIGTERM)
