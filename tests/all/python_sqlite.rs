//! `sqlite3` in the Python guest: in-memory and granted databases, checked
//! against CPython's output, and re-executed from a recording.

use std::path::Path;
use std::process::Command;

use crate::recording::record;
use crate::{Run, Scripts, rewind, rewind_run, run};

/// The machine's CPython on `script`, the reference a user compares with.
fn python3(script: &Path, args: &[&str]) -> Run {
    run(Command::new("python3").arg(script).args(args))
}

/// `script` prints under `rewind run` exactly what it prints under
/// CPython, and exits 0 under both.
fn check_like_cpython(scripts: &Scripts, name: &str, source: &str) {
    let script = scripts.write(name, source);
    let expected = python3(&script, &[]);
    assert_eq!(expected.code, Some(0), "CPython: {expected:?}");
    let got = rewind_run([&script]);
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(got.stdout, expected.stdout, "{}", got.stderr);
}

#[test]
fn an_in_memory_database_answers_as_in_cpython() {
    let scripts = Scripts::new();
    check_like_cpython(
        &scripts,
        "memory.py",
        r#"
import sqlite3
conn = sqlite3.connect(":memory:")
cur = conn.cursor()
cur.execute("create table people (id integer primary key, name text unique, age int, score real)")
cur.execute("insert into people (name, age, score) values (?, ?, ?)", ("Ada", 36, 9.5))
print("lastrowid", cur.lastrowid, "rowcount", cur.rowcount)
cur.executemany("insert into people (name, age, score) values (:name, :age, :score)",
                [{"name": "Grace", "age": 85, "score": 8.25}, {"name": "Alan", "age": 41, "score": None}])
print("rowcount", cur.rowcount, "total", conn.total_changes)
print([d[0] for d in cur.execute("select * from people").description])
print(cur.fetchall())
print(conn.execute("select count(*), sum(age), avg(score) from people").fetchone())
print(conn.execute("select name from people where age > ? order by age desc", (40,)).fetchall())
print(list(conn.execute("select typeof(1), typeof(1.5), typeof('x'), typeof(x'00ff'), typeof(null)")))
print(conn.execute("select ?, ?, ?, ?", (2**62, 1.25, "héllo ☃", b"\x00\x01")).fetchone())

conn.row_factory = sqlite3.Row
row = conn.execute("select name, age from people where name = 'Grace'").fetchone()
print(row.keys(), row["name"], row[1], tuple(row))
conn.row_factory = lambda cursor, row: {d[0]: v for d, v in zip(cursor.description, row)}
print(conn.execute("select name, age from people order by id limit 1").fetchone())
conn.row_factory = None

try:
    conn.execute("insert into people (name) values ('Ada')")
except sqlite3.IntegrityError as err:
    print("IntegrityError", err)
try:
    conn.execute("select * from nowhere")
except sqlite3.OperationalError as err:
    print("OperationalError", err)
try:
    conn.execute("select ?", (1, 2))
except sqlite3.ProgrammingError:
    # (the message's wording changed in CPython 3.12)
    print("ProgrammingError")

# Transactions: rollback undoes, commit keeps, `with` commits or rolls back.
conn.commit()
conn.execute("delete from people")
print("in transaction", conn.in_transaction)
conn.rollback()
print("after rollback", conn.execute("select count(*) from people").fetchone()[0])
try:
    with conn:
        conn.execute("insert into people (name, age) values ('Edsger', 72)")
        raise KeyError("undo")
except KeyError:
    pass
with conn:
    conn.execute("insert into people (name, age) values ('Barbara', 83)")
print(conn.execute("select name from people order by id").fetchall())

# User functions, aggregates, collations.
conn.create_function("shout", 1, lambda s: s.upper() + "!")
class Spread:
    def __init__(self):
        self.values = []
    def step(self, value):
        if value is not None:
            self.values.append(value)
    def finalize(self):
        return max(self.values) - min(self.values)
conn.create_aggregate("spread", 1, Spread)
conn.create_collation("reverse", lambda a, b: (a < b) - (a > b))
print(conn.execute("select shout(name) from people order by id").fetchall())
print(conn.execute("select spread(age) from people").fetchone())
print(conn.execute("select name from people order by name collate reverse").fetchall())
conn.create_function("boom", 0, lambda: 1 / 0)
try:
    conn.execute("select boom()").fetchone()
except sqlite3.OperationalError as err:
    print("OperationalError", err)

# Adapters and converters.
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __repr__(self):
        return f"Point({self.x}, {self.y})"
sqlite3.register_adapter(Point, lambda p: f"{p.x};{p.y}")
sqlite3.register_converter("point", lambda b: Point(*map(float, b.split(b";"))))
typed = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
typed.execute("create table shapes (p point)")
typed.execute("insert into shapes values (?)", (Point(1.5, -2),))
print(typed.execute("select p from shapes").fetchone()[0])

# Blobs, window functions, backups.
blobs = sqlite3.connect(":memory:")
blobs.execute("create table t (id integer primary key, b blob, x int)")
blobs.execute("insert into t values (1, zeroblob(8), 3), (2, x'00', 5), (3, x'01', 9)")
with blobs.blobopen("t", "b", 1) as blob:
    blob.write(b"abcdefgh")
    blob.seek(2)
    print(blob.read(3), len(blob))
class Running:
    def __init__(self):
        self.total = 0
    def step(self, value):
        self.total += value
    def inverse(self, value):
        self.total -= value
    def value(self):
        return self.total
    def finalize(self):
        return self.total
blobs.create_window_function("running", 1, Running)
print(blobs.execute("select x, running(x) over (order by id rows between 1 preceding and current row) from t").fetchall())
blobs.commit()
copy = sqlite3.connect(":memory:")
blobs.backup(copy)
print(copy.execute("select id, hex(b) from t").fetchall())

print("\n".join(conn.iterdump()))
print(sqlite3.complete_statement("select 1;"), sqlite3.complete_statement("select 1"))
conn.close()
"#,
    );
}

/// The grant of `dir` at `/data`, read-write or read-only.
fn grant(dir: &Path, writable: bool) -> [String; 2] {
    let flag = if writable { "--dir-rw" } else { "--dir" };
    [flag.to_owned(), format!("{}::/data", dir.display())]
}

#[test]
fn a_database_file_in_a_writable_grant_lasts_across_runs() {
    let scripts = Scripts::new();
    let data = scripts.root().join("data");
    std::fs::create_dir(&data).unwrap();
    let script = scripts.write(
        "notes.py",
        "import sqlite3, sys\n\
         conn = sqlite3.connect('/data/notes.db')\n\
         conn.execute('create table if not exists notes (id integer primary key, text text)')\n\
         conn.execute('insert into notes (text) values (?)', (sys.argv[1],))\n\
         conn.commit()\n\
         print([text for (text,) in conn.execute('select text from notes order by id')])\n",
    );
    let first = rewind_run(
        grant(&data, true)
            .iter()
            .chain([&script.display().to_string(), &"first".into()]),
    );
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(first.stdout, "['first']\n");
    let second = rewind_run(
        grant(&data, true)
            .iter()
            .chain([&script.display().to_string(), &"second".into()]),
    );
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(second.stdout, "['first', 'second']\n");

    // A real SQLite file: CPython reads it, and no journal is left behind.
    let reader = scripts.write(
        "read.py",
        "import sqlite3, sys\n\
         print(sqlite3.connect(sys.argv[1]).execute('select text from notes order by id').fetchall())\n",
    );
    let host = python3(&reader, &[data.join("notes.db").to_str().unwrap()]);
    assert_eq!(host.stdout, "[('first',), ('second',)]\n", "{host:?}");
    let mut left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["notes.db"]);
}

#[test]
fn a_read_only_grant_reads_a_database_and_refuses_writes() {
    if crate::rustpython_only(
        "CPython's SQLite opens a database read-write first, which a read-only grant refuses",
    ) {
        return;
    }
    let scripts = Scripts::new();
    let data = scripts.root().join("data");
    std::fs::create_dir(&data).unwrap();
    let maker = scripts.write(
        "make.py",
        "import sqlite3, sys\n\
         conn = sqlite3.connect(sys.argv[1])\n\
         conn.execute('create table t (x)')\n\
         conn.executemany('insert into t values (?)', [(1,), (2,), (3,)])\n\
         conn.commit()\n",
    );
    let made = python3(&maker, &[data.join("ro.db").to_str().unwrap()]);
    assert_eq!(made.code, Some(0), "{made:?}");
    let script = scripts.write(
        "ro.py",
        "import sqlite3\n\
         conn = sqlite3.connect('/data/ro.db')\n\
         print(conn.execute('select sum(x) from t').fetchone()[0])\n\
         try:\n\
         \x20   conn.execute('insert into t values (4)')\n\
         except sqlite3.OperationalError as err:\n\
         \x20   print('OperationalError:', err)\n\
         try:\n\
         \x20   sqlite3.connect('/data/new.db').execute('create table n (x)')\n\
         except sqlite3.OperationalError as err:\n\
         \x20   print('OperationalError:', err)\n\
         ro = sqlite3.connect('file:/data/ro.db?mode=ro', uri=True)\n\
         print(ro.execute('select count(*) from t').fetchone()[0])\n",
    );
    let run = rewind_run(
        grant(&data, false)
            .iter()
            .chain([&script.display().to_string()]),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "6\n\
         OperationalError: attempt to write a readonly database\n\
         OperationalError: unable to open database file\n\
         3\n"
    );
    let mut left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["ro.db"]);
}

#[test]
fn a_run_on_a_database_file_re_executes_identically() {
    let scripts = Scripts::new();
    let data = scripts.root().join("data");
    std::fs::create_dir(&data).unwrap();
    // The rows depend on the clock and on random, and the database on
    // what earlier runs left in it.
    let script = scripts.write(
        "log.py",
        "import random, sqlite3, time\n\
         conn = sqlite3.connect('/data/log.db')\n\
         conn.execute('create table if not exists runs (at real, draw int, note text)')\n\
         with conn:\n\
         \x20   conn.execute('insert into runs values (?, ?, ?)', (time.time(), random.randrange(10**9), 'run'))\n\
         \x20   conn.execute(\"insert into runs values (julianday('now'), random(), 'sql')\")\n\
         rows = conn.execute('select at, draw, note from runs').fetchall()\n\
         print(len(rows), rows[-2:])\n\
         mem = sqlite3.connect(':memory:')\n\
         mem.execute('create table t (x)')\n\
         mem.executemany('insert into t values (?)', [(random.random(),) for _ in range(5)])\n\
         print(mem.execute('select sum(x) from t').fetchone())\n\
         print('blob', mem.execute('select hex(randomblob(8))').fetchone()[0])\n",
    );
    let args = grant(&data, true);
    let first = rewind_run(args.iter().chain([&script.display().to_string()]));
    assert_eq!(first.code, Some(0), "{first:?}");
    let (recorded, files) = record(
        &scripts,
        &[
            "--mode",
            "continuous",
            &args[0],
            &args[1],
            script.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(recorded.code, Some(0), "{recorded:?}");
    assert!(recorded.stdout.starts_with("4 ["), "{recorded:?}");
    assert_eq!(files.len(), 1, "{files:?}");

    // The database changes and then goes away: the log has what was read.
    let again = rewind_run(args.iter().chain([&script.display().to_string()]));
    assert!(again.stdout.starts_with("6 ["), "{again:?}");
    // SQLite's own generator is seeded anew by every run (from wasi:random,
    // which is recorded), not from the current second. The CPython guest's
    // SQLite seeds it itself, from the clock (recorded too).
    let blob = |run: &Run| run.stdout.lines().last().unwrap().to_owned();
    if crate::guest() == crate::Guest::RustPython {
        assert_ne!(blob(&first), blob(&recorded));
        assert_ne!(blob(&recorded), blob(&again));
    }
    for round in 0..2 {
        let replayed = run(rewind().args(["replay", "--exec"]).arg(&files[0]));
        assert_eq!(replayed.code, Some(0), "round {round}: {replayed:?}");
        assert_eq!(replayed.stdout, recorded.stdout, "round {round}");
        std::fs::remove_dir_all(&data).unwrap();
        std::fs::create_dir(&data).unwrap();
    }
}
