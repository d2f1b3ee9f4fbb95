"""Counts words in a text and prints the most common, as a report script would."""
import re
from collections import Counter

TEXT = """
It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of
incredulity, it was the season of Light, it was the season of Darkness, it was
the spring of hope, it was the winter of despair.
"""

words = re.findall(r"[a-z']+", TEXT.lower())
counts = Counter(words)
print(f"{len(words)} words, {len(counts)} distinct")
for word, n in counts.most_common(8):
    print(f"{word:>12} {n:3d} {'#' * n}")
longest = max(counts, key=lambda w: (len(w), w))
print("longest:", longest)
print("letters:", sorted(Counter(c for w in words for c in w).most_common(5)))
