"""Writes a CSV of sales, reads it back and prints totals per region."""
import csv
import io
import os
import sys
import tempfile
from collections import defaultdict

rows = [
    ("2024-01-03", "north", "widget", 3, 2.50),
    ("2024-01-04", "south", "gadget", 1, 10.00),
    ("2024-01-04", "north", "gadget", 2, 10.00),
    ("2024-01-05", "east", "widget", 10, 2.25),
    ("2024-01-06", "south", "widget", 4, 2.50),
    ("2024-01-06", "east", "doohickey, large", 1, 99.99),
]
work = tempfile.mkdtemp(dir=sys.argv[1])
path = os.path.join(work, "sales.csv")
with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["date", "region", "item", "qty", "price"])
    writer.writerows(rows)

totals = defaultdict(float)
items = defaultdict(int)
with open(path, newline="") as f:
    for row in csv.DictReader(f):
        totals[row["region"]] += int(row["qty"]) * float(row["price"])
        items[row["item"]] += int(row["qty"])
for region in sorted(totals):
    print(f"{region:<6} {totals[region]:>8.2f}")
print("items:", dict(sorted(items.items())))

out = io.StringIO()
writer = csv.DictWriter(out, fieldnames=["region", "total"], quoting=csv.QUOTE_NONNUMERIC)
writer.writeheader()
for region, total in sorted(totals.items()):
    writer.writerow({"region": region, "total": round(total, 2)})
print(out.getvalue(), end="")
print(open(path).read().splitlines()[-1])
