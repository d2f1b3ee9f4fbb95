# Parsing and formatting many decimals: a CSV of prices and rates read,
# compared, summed, rescaled and written back in several formats.
from decimal import Decimal, InvalidOperation, ROUND_DOWN

rows = []
for i in range(30000):
    rows.append(f"{i},{(i * 104729) % 1000003 / 100:.2f},{(i * 7) % 1000}E-{i % 5},-{i % 13}.{i % 1000:03d}")

parsed = []
bad = 0
for row in rows:
    ident, price, scaled, delta = row.split(",")
    try:
        parsed.append((int(ident), Decimal(price), Decimal(scaled), Decimal(delta)))
    except InvalidOperation:
        bad += 1

out = []
total = Decimal(0)
for ident, price, scaled, delta in parsed:
    value = price + delta
    if value > scaled:
        total += value
    out.append(f"{ident};{value};{scaled.normalize()};{price:>12.3f};{delta:e};{repr(scaled)}")
print(len(out), bad, total)
print(out[1], out[777], out[-1], sep="\n")
print(sum(Decimal(line.split(";")[1]) for line in out[:5000]).quantize(Decimal("1."), rounding=ROUND_DOWN))
print(sorted(parsed, key=lambda r: r[2])[100][2], hash(Decimal("1.5")) == hash(1.5), Decimal("2.50") == 2.5)
