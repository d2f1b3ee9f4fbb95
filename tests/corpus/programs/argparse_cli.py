"""A command-line tool's argument parsing: subcommands, types, defaults, errors."""
import argparse
import contextlib
import io

parser = argparse.ArgumentParser(prog="todo", description="A small todo tool.")
parser.add_argument("-v", "--verbose", action="count", default=0)
parser.add_argument("--db", default="todo.json", metavar="FILE")
sub = parser.add_subparsers(dest="command", required=True)
add = sub.add_parser("add", help="add an item")
add.add_argument("title", nargs="+")
add.add_argument("-p", "--priority", type=int, choices=range(1, 6), default=3)
add.add_argument("--due")
ls = sub.add_parser("list", help="list items")
ls.add_argument("--all", action="store_true")
ls.add_argument("--tag", action="append", default=[])
done = sub.add_parser("done")
done.add_argument("ids", type=int, nargs="*")

for argv in (["add", "buy", "milk", "-p", "1"], ["-vv", "list", "--tag", "home", "--tag", "work"],
             ["--db", "x.json", "done", "1", "2"], ["list", "--all"]):
    ns = parser.parse_args(argv)
    print(sorted(vars(ns).items()))

for argv in (["add", "x", "-p", "9"], ["frob"], [], ["done", "one"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            print("exit", e.code, err.getvalue().strip().splitlines()[-1])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        add.parse_args(["--help"])
    except SystemExit:
        pass
print(out.getvalue().splitlines()[0])
ns, rest = parser.parse_known_args(["list", "--color"])
print(ns.command, rest)
