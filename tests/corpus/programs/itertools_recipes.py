"""Everyday itertools and functools: grouping, windows, combinations, caching."""
import functools
import itertools
import operator

data = [("fruit", "apple"), ("fruit", "pear"), ("veg", "leek"), ("veg", "kale"), ("nut", "pecan")]
for key, group in itertools.groupby(data, key=operator.itemgetter(0)):
    print(key, [name for _, name in group])

print(list(itertools.accumulate([1, 2, 3, 4, 5])))
print(list(itertools.accumulate([1, 2, 3, 4, 5], operator.mul)))
print(list(itertools.pairwise("abcde")))
print(list(itertools.combinations("ABCD", 2)))
print(len(list(itertools.permutations(range(5), 3))))
print(list(itertools.product("xy", repeat=2)))
print(list(itertools.islice(itertools.cycle("abc"), 7)))
print(list(itertools.chain.from_iterable([[1, 2], [3], [], [4, 5]])))
print(list(itertools.zip_longest("abc", [1], fillvalue="-")))
print(list(itertools.takewhile(lambda x: x < 5, itertools.count(1, 2))))
print(list(itertools.compress("ABCDEF", [1, 0, 1, 0, 1, 1])))
print(list(itertools.starmap(pow, [(2, 5), (3, 2), (10, 3)])))


@functools.lru_cache(maxsize=None)
def partitions(n, k):
    if n == 0:
        return 1
    if n < 0 or k == 0:
        return 0
    return partitions(n - k, k) + partitions(n, k - 1)


print([partitions(n, n) for n in range(15)])
print(partitions.cache_info().hits > 0)
print(functools.reduce(lambda a, b: a * 10 + b, [1, 2, 3, 4]))
double = functools.partial(operator.mul, 2)
print(list(map(double, range(5))))


@functools.total_ordering
class Version:
    def __init__(self, text):
        self.parts = tuple(int(p) for p in text.split("."))

    def __eq__(self, other):
        return self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts

    def __repr__(self):
        return ".".join(map(str, self.parts))


print(sorted(map(Version, ["1.10", "1.2", "1.2.1", "0.9"])), Version("2.0") >= Version("1.99"))


@functools.singledispatch
def describe(x):
    return f"object {x!r}"


@describe.register
def _(x: int):
    return f"int {x}"


@describe.register
def _(x: list):
    return f"list of {len(x)}"


print(describe(3), describe([1, 2]), describe("s"))
