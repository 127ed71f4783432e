"""A real Supervisor whose workers live 2 s: ``python -m tests.apps.short_lifetime PORT``.

``--workers-lifetime`` cannot go below 60 s (the option table refuses it), and a
test cannot wait a minute. So this script builds the supervisor from a valid
60 s configuration, checks that it made a 60 s lifetime monitor, and swaps in a
2 s one before running: everything else (the loop, the rolling respawn, the log
lines, signals) is the production code path.
"""

import sys

from granian_core.config import ServerConfig
from granian_core.server.monitors import LifetimeMonitor
from granian_core.server.supervisor import Supervisor

TEST_LIFETIME = 2.0


def main() -> int:
    config = ServerConfig(
        interface="asgi", port=int(sys.argv[1]), workers_lifetime=60, respawn_interval=0.2
    )
    supervisor = Supervisor(config, "tests.apps.process_asgi:app")
    [monitor] = supervisor.monitors
    assert isinstance(monitor, LifetimeMonitor)
    assert monitor.seconds == 60
    supervisor.monitors = [LifetimeMonitor(TEST_LIFETIME)]
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
