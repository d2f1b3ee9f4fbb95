"""Decorators with arguments, closures, functools.wraps, memoization and retry logic."""
import functools


def counted(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return func(*args, **kwargs)
    wrapper.calls = 0
    return wrapper


def retry(times, exceptions=(Exception,)):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(1, times + 1):
                try:
                    return func(*args, attempt=attempt, **kwargs)
                except exceptions as e:
                    print(f"  attempt {attempt} failed: {e}")
            raise RuntimeError(f"{func.__name__} failed {times} times")
        return wrapper
    return decorate


@retry(3, (ConnectionError,))
def flaky(succeed_on, attempt):
    if attempt < succeed_on:
        raise ConnectionError(f"try {attempt}")
    return f"ok on {attempt}"


print(flaky(2))
try:
    flaky(5)
except RuntimeError as e:
    print(e)


@counted
def fib(n):
    """Fibonacci."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


print(fib(15), fib.calls, fib.__name__, fib.__doc__, fib.__wrapped__.__name__)


def make_counter(start=0):
    count = start

    def increment(by=1):
        nonlocal count
        count += by
        return count
    return increment


c = make_counter(10)
print(c(), c(5), c(), c.__closure__[0].cell_contents)
adders = [lambda x, i=i: x + i for i in range(3)]
late = [lambda x: x + i for i in range(3)]
print([f(10) for f in adders], [f(10) for f in late])


class cached_property_demo:
    def __init__(self):
        self.computed = 0

    @functools.cached_property
    def value(self):
        self.computed += 1
        return 42


obj = cached_property_demo()
print(obj.value, obj.value, obj.computed)


def trace(prefix):
    def deco(cls):
        for name, attr in list(vars(cls).items()):
            if callable(attr) and not name.startswith("__"):
                def wrap(f, name=name):
                    def inner(*a):
                        print(f"{prefix}{name}{a[1:]}")
                        return f(*a)
                    return inner
                setattr(cls, name, wrap(attr))
        return cls
    return deco


@trace("-> ")
class Calc:
    def add(self, a, b):
        return a + b

    def neg(self, a):
        return -a


print(Calc().add(2, 3), Calc().neg(4))
