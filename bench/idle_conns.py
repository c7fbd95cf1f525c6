#!/usr/bin/env python3
"""Hold many idle HTTP/1.1 keep-alive connections open against a proxy's plain listener.

Usage: idle_conns.py PORT HOST PATH COUNT DEADLINE_S HOLD_S

Opens COUNT connections to 127.0.0.1:PORT (at most 200 being opened at a time), sends one
`GET PATH` with `Host: HOST` on each and reads the whole response, then leaves the connection
open and idle. Opening stops at DEADLINE_S seconds whatever the count. Prints one line,
`open N failed M seconds S`, then holds the connections for HOLD_S seconds (the caller
measures meanwhile and usually stops this process first).
"""

import asyncio
import resource
import sys
import time


async def open_one(port, host, path, gate, held, failures):
    async with gate:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            failures.append(1)
            return
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            # Static files come back with a length; anything else is not what we measure.
            if status != b"200" or length is None:
                raise ValueError(head[:80])
            await reader.readexactly(length)
            held.append(writer)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            failures.append(1)
            writer.close()


async def main():
    port, host, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    count, deadline, hold = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    held, failures = [], []
    gate = asyncio.Semaphore(200)
    start = time.monotonic()
    tasks = [asyncio.create_task(open_one(port, host, path, gate, held, failures)) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    print(f"open {len(held)} failed {len(failures) + len(pending)} seconds {time.monotonic() - start:.1f}", flush=True)
    await asyncio.sleep(hold)
    for writer in held:
        writer.close()


asyncio.run(main())
