"""Conway's Game of Life on a small torus, printed generation by generation."""
GLIDER = {(1, 0), (2, 1), (0, 2), (1, 2), (2, 2)}
W, H = 10, 8


def step(cells):
    counts = {}
    for x, y in cells:
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if dx or dy:
                    key = ((x + dx) % W, (y + dy) % H)
                    counts[key] = counts.get(key, 0) + 1
    return {c for c, n in counts.items() if n == 3 or (n == 2 and c in cells)}


def show(cells):
    return "\n".join("".join("#" if (x, y) in cells else "." for x in range(W)) for y in range(H))


cells = GLIDER | {(6, 5), (7, 5), (8, 5)}
for gen in range(6):
    print(f"generation {gen}: {len(cells)} alive")
    print(show(cells))
    cells = step(cells)
for _ in range(40):
    cells = step(cells)
print(sorted(cells))
