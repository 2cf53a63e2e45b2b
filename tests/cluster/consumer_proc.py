"""One consumer process of the scaled-out test: the runtime's EventConsumer (inbox, explicit
offsets) applying the harness's events, in consumer group ``GROUP``, until SIGTERM or SIGKILL.

python -m tests.cluster.consumer_proc DATABASE_URL BOOTSTRAP TOPIC GROUP
"""

from __future__ import annotations

import asyncio
import signal
import sys

from services.runtime.db import make_engine
from tests.integration.harness import Harness


async def main(url: str, bootstrap: str, topic: str, group: str) -> None:
    engine = make_engine(url)
    h = Harness(engine, bootstrap, topic)
    h.group = group
    await h.producer()
    await h.consumer().start()
    print("consuming", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await h.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
