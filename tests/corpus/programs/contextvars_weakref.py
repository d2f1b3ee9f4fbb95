"""Context variables across asyncio tasks, weak references and object finalization."""
import asyncio
import contextvars
import gc
import weakref

request_id = contextvars.ContextVar("request_id", default="-")


async def handle(i):
    request_id.set(f"req-{i}")
    await asyncio.sleep(0.001 * (3 - i))
    return f"{i}:{request_id.get()}"


async def main():
    print(await asyncio.gather(*(handle(i) for i in range(3))), request_id.get())


asyncio.run(main())
token = request_id.set("outer")
ctx = contextvars.copy_context()
request_id.reset(token)
print(request_id.get(), ctx[request_id], ctx.run(request_id.get))


class Resource:
    def __init__(self, name):
        self.name = name


r = Resource("db")
ref = weakref.ref(r)
events = []
weakref.finalize(r, events.append, "finalized db")
cache = weakref.WeakValueDictionary()
cache["db"] = r
print(ref() is r, ref().name, "db" in cache)
del r
gc.collect()
print(ref(), "db" in cache, events)
ws = weakref.WeakSet()
keep = [Resource(str(i)) for i in range(3)]
for k in keep:
    ws.add(k)
keep.pop()
gc.collect()
print(len(ws))
