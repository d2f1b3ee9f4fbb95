"""An in-memory sqlite3 report: aggregates, window functions, custom functions, CTEs."""
import sqlite3

db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE sales (day TEXT, region TEXT, amount REAL)")
rows = [("2024-01-0%d" % d, r, a) for d, r, a in [(1, "n", 10), (1, "s", 5.5), (2, "n", 7), (2, "s", 12), (3, "n", 3), (3, "e", 20)]]
db.executemany("INSERT INTO sales VALUES (?, ?, ?)", rows)
print(db.execute("SELECT region, count(*), sum(amount), round(avg(amount), 2) FROM sales GROUP BY region ORDER BY region").fetchall())
print(db.execute("""SELECT day, region, amount, sum(amount) OVER (PARTITION BY region ORDER BY day) AS running
                    FROM sales ORDER BY region, day""").fetchall())
db.create_function("initial", 1, lambda s: s[:1].upper())
print(db.execute("SELECT DISTINCT initial(region) FROM sales ORDER BY 1").fetchall())


class Spread:
    def __init__(self):
        self.values = []

    def step(self, value):
        self.values.append(value)

    def finalize(self):
        return max(self.values) - min(self.values)


db.create_aggregate("spread", 1, Spread)
print(db.execute("SELECT spread(amount) FROM sales").fetchone())
print(db.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x * 2 FROM n WHERE x < 100) SELECT group_concat(x) FROM n").fetchone())
cur = db.execute("SELECT * FROM sales WHERE amount > ?", (6,))
print([d[0] for d in cur.description], len(cur.fetchall()), sqlite3.sqlite_version_info >= (3, 25))
try:
    db.execute("SELECT * FROM nowhere")
except sqlite3.OperationalError as e:
    print("OperationalError:", e)
