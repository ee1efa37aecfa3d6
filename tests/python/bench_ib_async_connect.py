"""ib_async's own full connect, in process, against the simulator: the baseline the
supervisor bench compares its cold connect (spawn the worker, connect, accounts) with.

    python bench_ib_async_connect.py PORT N

Prints one JSON line: {"n": N, "median_us": …, "p95_us": …}. ib_async offers v157..178, so
the simulator serves it classic text; `readonly=True` skips the order requests a read-only
monitor never makes, and the rest of its start-up sync (positions, open orders, executions,
account updates) is included, as in its own `IB.connectAsync`.
"""

import asyncio
import json
import sys
import time

from ib_async import IB


async def main(port: int, n: int) -> None:
    samples = []
    for i in range(n):
        ib = IB()
        started = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=8000 + i, timeout=10, readonly=True)
        samples.append(time.perf_counter() - started)
        ib.disconnect()
        await asyncio.sleep(0.01)
    samples.sort()
    quantile = lambda q: samples[round((len(samples) - 1) * q)] * 1e6
    print(json.dumps({"n": n, "median_us": quantile(0.5), "p95_us": quantile(0.95)}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
