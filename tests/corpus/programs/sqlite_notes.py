"""A notes store in sqlite3: schema, inserts, queries, joins, transactions, a file database."""
import os
import sqlite3
import sys
import tempfile

path = os.path.join(tempfile.mkdtemp(dir=sys.argv[1]), "notes.db")
db = sqlite3.connect(path)
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT, stars INTEGER DEFAULT 0)")
db.execute("CREATE TABLE tags (note_id INTEGER REFERENCES notes(id), tag TEXT)")
notes = [("shopping", "milk, eggs", 1), ("ideas", "a recorder for python", 5), ("todo", None, 3)]
db.executemany("INSERT INTO notes (title, body, stars) VALUES (?, ?, ?)", notes)
db.executemany("INSERT INTO tags VALUES (?, ?)", [(1, "home"), (2, "work"), (2, "python"), (3, "work")])
db.commit()
for row in db.execute("SELECT id, title, coalesce(body, '-'), stars FROM notes ORDER BY stars DESC"):
    print(row)
print(db.execute("""SELECT tag, count(*), group_concat(title, '+') FROM tags JOIN notes ON notes.id = note_id
                    GROUP BY tag ORDER BY tag""").fetchall())
try:
    with db:
        db.execute("UPDATE notes SET stars = stars + 1")
        db.execute("INSERT INTO notes (title) VALUES (NULL)")
except sqlite3.IntegrityError as e:
    print("rolled back:", e)
print(db.execute("SELECT sum(stars) FROM notes").fetchone())
db.close()
db = sqlite3.connect(path)
db.row_factory = sqlite3.Row
row = db.execute("SELECT * FROM notes WHERE title = :t", {"t": "ideas"}).fetchone()
print(row.keys(), row["body"], dict(row))
print(tuple(db.execute("SELECT typeof(1), typeof(1.5), typeof('x'), typeof(x'00'), typeof(NULL)").fetchone()))
db.close()
