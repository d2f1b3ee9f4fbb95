"""asyncio timeouts, cancellation, TaskGroup, events, locks and semaphores."""
import asyncio


async def slow(n):
    await asyncio.sleep(n)
    return n


async def guarded(sem, log, i):
    async with sem:
        log.append(f"in{i}")
        # A yield, not a timer: two timers due together may wake in one
        # loop iteration or two, and the log would depend on the machine.
        await asyncio.sleep(0)
        log.append(f"out{i}")


async def main():
    try:
        await asyncio.wait_for(slow(5), timeout=0.01)
    except asyncio.TimeoutError:
        print("wait_for: timeout")
    try:
        async with asyncio.timeout(0.01) as cm:
            await slow(5)
    except TimeoutError:
        print("timeout(): expired", cm.expired())
    print("fast enough:", await asyncio.wait_for(slow(0), timeout=1))

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(slow(0.001 * i)) for i in (3, 1, 2)]
    print("taskgroup:", [t.result() for t in tasks])

    event = asyncio.Event()
    order = []

    async def waiter(i):
        await event.wait()
        order.append(i)

    waiters = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep(0)
    event.set()
    await asyncio.gather(*waiters)
    print("event:", order)

    sem = asyncio.Semaphore(2)
    log = []
    await asyncio.gather(*(guarded(sem, log, i) for i in range(4)))
    print("semaphore:", log)

    lock = asyncio.Lock()
    counter = 0

    async def bump():
        nonlocal counter
        async with lock:
            value = counter
            await asyncio.sleep(0)
            counter = value + 1

    await asyncio.gather(*(bump() for _ in range(10)))
    print("lock:", counter)

    task = asyncio.create_task(slow(10))
    await asyncio.sleep(0)
    task.cancel("stop")
    try:
        await task
    except asyncio.CancelledError as e:
        print("cancelled:", task.cancelled(), e.args)
    done, pending = await asyncio.wait([asyncio.create_task(slow(0.001)), asyncio.create_task(slow(5))],
                                       return_when=asyncio.FIRST_COMPLETED)
    print("wait:", len(done), len(pending))
    for p in pending:
        p.cancel()
    results = []
    # 10 ms apart: the tasks start in an order of their own (a set), which a
    # slow moment must not turn into a finishing order.
    for coro in asyncio.as_completed([slow(0.03), slow(0.01), slow(0.02)]):
        results.append(await coro)
    print("as_completed:", results)


asyncio.run(main())
