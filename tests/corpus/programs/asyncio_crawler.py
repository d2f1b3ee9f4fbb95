"""An asyncio "crawler" over a fake site: tasks, a bounded queue, workers, gather."""
import asyncio

SITE = {
    "/": ["/a", "/b", "/c"],
    "/a": ["/a/1", "/a/2", "/"],
    "/b": ["/b/1"],
    "/c": [],
    "/a/1": ["/b/1"],
    "/a/2": [],
    "/b/1": ["/missing"],
}


async def fetch(path):
    await asyncio.sleep(0.001 * len(path))
    if path not in SITE:
        raise LookupError(path)
    return SITE[path]


async def worker(name, queue, seen, results):
    while True:
        path = await queue.get()
        try:
            links = await fetch(path)
            results[path] = len(links)
            for link in links:
                if link not in seen:
                    seen.add(link)
                    await queue.put(link)
        except LookupError as e:
            results[path] = f"error {e}"
        finally:
            queue.task_done()


async def main():
    queue = asyncio.Queue(maxsize=3)
    seen = {"/"}
    results = {}
    await queue.put("/")
    workers = [asyncio.create_task(worker(f"w{i}", queue, seen, results)) for i in range(3)]
    await queue.join()
    for w in workers:
        w.cancel()
    outcomes = await asyncio.gather(*workers, return_exceptions=True)
    print(sorted(results.items()))
    print([type(o).__name__ for o in outcomes])
    done = await asyncio.gather(*(fetch(p) for p in ["/c", "/a/2"]))
    print(done)
    try:
        await asyncio.gather(fetch("/"), fetch("/nope"))
    except LookupError as e:
        print("gather raised", e)


asyncio.run(main())
