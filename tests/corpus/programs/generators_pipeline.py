"""A lazy log-processing pipeline built from generators, with send and yield from."""
LOG = """\
2024-03-01 12:00:01 INFO start service=api
2024-03-01 12:00:02 WARN slow request path=/users ms=812
2024-03-01 12:00:03 ERROR failed path=/orders code=500
2024-03-01 12:00:04 INFO request path=/users ms=20
2024-03-01 12:00:05 ERROR failed path=/users code=503
2024-03-01 12:00:06 INFO stop service=api
"""


def lines(text):
    for line in text.splitlines():
        if line.strip():
            yield line


def parse(records):
    for line in records:
        date, time, level, message, *rest = line.split()
        pairs = [p for p in rest if "=" in p]
        message = " ".join([message] + [p for p in rest if "=" not in p])
        yield {"time": time, "level": level, "message": message, **dict(p.split("=") for p in pairs)}


def only(level, records):
    return (r for r in records if r["level"] == level)


def averager():
    total = count = 0
    average = None
    while True:
        value = yield average
        if value is None:
            return count
        total += value
        count += 1
        average = total / count


def chain(*iterables):
    for it in iterables:
        yield from it


errors = list(only("ERROR", parse(lines(LOG))))
print([(e["time"], e["path"], e["code"]) for e in errors])
avg = averager()
next(avg)
for record in parse(lines(LOG)):
    if "ms" in record:
        print("running average", avg.send(int(record["ms"])))
try:
    avg.send(None)
except StopIteration as stop:
    print("samples:", stop.value)
print(list(chain(range(3), "ab", (x * x for x in range(3)))))
gen = (n for n in range(10) if n % 3 == 0)
print(next(gen), list(gen), list(gen))


def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b


import itertools
print(list(itertools.islice(fib(), 15)))
closing = fib()
next(closing)
closing.close()
print("closed", list(closing))
