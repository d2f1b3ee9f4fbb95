"""A priority-queue job scheduler and a sorted index: heapq and bisect."""
import bisect
import heapq

jobs = []
for seq, (prio, name) in enumerate([(3, "email"), (1, "backup"), (2, "report"), (1, "deploy"), (5, "cleanup")]):
    heapq.heappush(jobs, (prio, seq, name))
print([heapq.heappop(jobs)[2] for _ in range(len(jobs))])
data = [27, 3, 88, 14, 51, 9, 66, 42, 5, 70]
print(heapq.nlargest(3, data), heapq.nsmallest(3, data), heapq.nsmallest(2, ["bb", "a", "ccc"], key=len))
heap = list(data)
heapq.heapify(heap)
print(heap[0], heapq.heappushpop(heap, 1), heapq.heapreplace(heap, 100), sorted(heap)[:3])
print(list(heapq.merge([1, 4, 9], [2, 3, 10], [0, 11])))


def dijkstra(graph, start):
    dist = {start: 0}
    queue = [(0, start)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > dist.get(node, float("inf")):
            continue
        for nxt, w in graph[node]:
            if d + w < dist.get(nxt, float("inf")):
                dist[nxt] = d + w
                heapq.heappush(queue, (d + w, nxt))
    return dict(sorted(dist.items()))


graph = {"a": [("b", 7), ("c", 9), ("f", 14)], "b": [("c", 10), ("d", 15)], "c": [("d", 11), ("f", 2)],
         "d": [("e", 6)], "e": [], "f": [("e", 9)]}
print(dijkstra(graph, "a"))
grades = [60, 70, 80, 90]
print([("FDCBA"[bisect.bisect(grades, s)]) for s in [33, 60, 75, 89, 90, 100]])
index = []
for word in ["pear", "apple", "fig", "banana", "cherry"]:
    bisect.insort(index, word)
print(index, bisect.bisect_left(index, "cherry"), bisect.bisect_right(index, "cherry"))
print(bisect.bisect_left([{"k": 1}, {"k": 5}, {"k": 9}], 6, key=lambda d: d["k"]))
