"""collections in everyday code: deque, OrderedDict LRU, ChainMap, defaultdict, Counter."""
from collections import ChainMap, Counter, OrderedDict, defaultdict, deque, namedtuple


class LRU(OrderedDict):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


cache = LRU(3)
for k in "abcab":
    cache[k] = k.upper()
_ = cache["a"]
cache["d"] = "D"
print(list(cache.items()))
window = deque(maxlen=3)
for x in range(6):
    window.append(x)
    print(list(window), sum(window) / len(window))
d = deque("abcde")
d.rotate(2)
d.appendleft("z")
print(d, d.popleft(), d.pop(), d.index("b"))
defaults = {"color": "red", "user": "guest"}
env = {"user": "root"}
cli = {"color": "blue"}
config = ChainMap(cli, env, defaults)
print(config["color"], config["user"], sorted(config), config.new_child({"x": 1}).maps[0])
graph = defaultdict(list)
for a, b in [("a", "b"), ("a", "c"), ("b", "c"), ("c", "a")]:
    graph[a].append(b)
print(dict(graph), graph["z"], len(graph))
c1 = Counter("abracadabra")
c2 = Counter(a=1, b=10)
print(c1.most_common(2), c1 + c2, c1 - c2, c1 & c2, sorted((c1 | c2).elements())[:6], c1.total())
Card = namedtuple("Card", "rank suit")
hand = [Card(r, s) for r, s in zip("AKQ", "♠♥♦")]
print(hand, hand[0].rank, Card._make(["2", "♣"]), max(hand))
