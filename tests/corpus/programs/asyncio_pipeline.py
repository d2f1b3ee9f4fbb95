"""An async producer/consumer pipeline with async generators and context managers."""
import asyncio
import contextlib


async def numbers(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


@contextlib.asynccontextmanager
async def connection(name, log):
    log.append(f"open {name}")
    try:
        yield name.upper()
    finally:
        log.append(f"close {name}")


async def stage(inbox, outbox, fn):
    while (item := await inbox.get()) is not None:
        await outbox.put(fn(item))
    await outbox.put(None)


async def main():
    squares = [x * x async for x in numbers(6)]
    print(squares)
    log = []
    async with connection("db", log) as conn, connection("cache", log):
        log.append(f"use {conn}")
    print(log)
    q1, q2, q3 = asyncio.Queue(), asyncio.Queue(), asyncio.Queue()
    tasks = [asyncio.create_task(stage(q1, q2, lambda x: x + 1)),
             asyncio.create_task(stage(q2, q3, lambda x: x * 10))]
    async for i in numbers(5):
        await q1.put(i)
    await q1.put(None)
    out = []
    while (item := await q3.get()) is not None:
        out.append(item)
    await asyncio.gather(*tasks)
    print(out)
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "soon")
    print(await fut, await loop.run_in_executor(None, sum, [1, 2, 3]) if False else "no executor needed")
    print(asyncio.iscoroutinefunction(main), asyncio.current_task().get_name().startswith("Task"))


asyncio.run(main())
