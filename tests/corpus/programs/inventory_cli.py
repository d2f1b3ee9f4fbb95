"""A small inventory program: reads commands, keeps JSON state in a file, prints a table."""
import json
import os
import sys
import tempfile

STATE = os.path.join(tempfile.mkdtemp(dir=sys.argv[1]), "inventory.json")
COMMANDS = """
add apple 10 0.5
add pear 4 0.75
add apple 5 0.5
remove pear 1
price pear 0.8
remove kiwi 1
remove apple 100
add melon 2 3
bogus
"""


def load():
    if not os.path.exists(STATE):
        return {}
    with open(STATE) as f:
        return json.load(f)


def save(inv):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(inv, f, indent=1, sort_keys=True)
    os.replace(tmp, STATE)


for line in COMMANDS.strip().splitlines():
    inv = load()
    cmd, *args = line.split()
    try:
        if cmd == "add":
            name, qty, price = args[0], int(args[1]), float(args[2])
            item = inv.setdefault(name, {"qty": 0, "price": price})
            item["qty"] += qty
        elif cmd == "remove":
            name, qty = args[0], int(args[1])
            if name not in inv:
                raise KeyError(f"no such item: {name}")
            if inv[name]["qty"] < qty:
                raise ValueError(f"only {inv[name]['qty']} {name} left")
            inv[name]["qty"] -= qty
        elif cmd == "price":
            inv[args[0]]["price"] = float(args[1])
        else:
            raise ValueError(f"unknown command {cmd!r}")
        save(inv)
        print(f"ok   {line}")
    except (KeyError, ValueError) as e:
        print(f"err  {line}: {e}")
inv = load()
print(f"{'item':<8}{'qty':>5}{'price':>8}{'value':>8}")
for name, item in sorted(inv.items()):
    print(f"{name:<8}{item['qty']:>5}{item['price']:>8.2f}{item['qty'] * item['price']:>8.2f}")
print(f"{'total':<21}{sum(i['qty'] * i['price'] for i in inv.values()):>8.2f}")
print(os.path.getsize(STATE) > 0, sorted(os.listdir(os.path.dirname(STATE))))
