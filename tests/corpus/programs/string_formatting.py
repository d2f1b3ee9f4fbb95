"""f-strings, str.format, %-formatting and string methods in a printed invoice."""
from string import Template

lines = [("Widget", 3, 4.5), ("Gadget with a long name", 1, 129.99), ("Nut", 250, 0.012)]
print(f"{'Item':<20}|{'Qty':>5}|{'Price':>9}|{'Total':>10}")
print("-" * 47)
total = 0
for name, qty, price in lines:
    total += qty * price
    print(f"{name[:20]:<20}|{qty:>5d}|{price:>9.3f}|{qty * price:>10,.2f}")
print(f"{'TOTAL':>36}{total:>11,.2f}")
print("{0} {1} {0}".format("a", "b"), "{name}={value!r}".format(name="x", value="y"))
print("%s is %d years and %.1f%% done" % ("Ann", 30, 45.678), "%(a)s-%(b)05d" % {"a": 1, "b": 42})
print(f"{255:#x} {255:#o} {255:#b} {255:08b} {1e6:e} {1234.5:g} {0.000012:g} {-3:+d} {3:+d}")
print(f"{'c':^9}|{'c':*^9}|{12:=+8}|{3.14159:.2%}|{10**9:_}")
x = 42
print(f"{x=}", f"{x * 2 = }", f"{'nested ' + str(x)!s:>12}")
print(Template("$who likes ${what}s").substitute(who="tim", what="kung pao"))
print(Template("$a and $b").safe_substitute(a=1))
s = "  Hello, World  "
print(s.strip().lower(), s.split(","), s.strip().center(20, "."), "|".join(["a", "b"]))
print("hello world".title(), "Hello".swapcase(), "abc".zfill(6), "ß".upper(), "ǅ".lower())
print("a,b,,c".split(","), "a b  c".split(), "line1\nline2\r\nline3".splitlines(keepends=True))
print("banana".count("an"), "banana".rfind("an"), "banana".partition("n"), "banana".rpartition("n"))
print("Straße".casefold(), "tab\tsep".expandtabs(4), "x".join("abc"), "%-5s|" % "ab")
print("prefix_name".removeprefix("prefix_"), "file.txt".removesuffix(".txt"), "abc".isidentifier())
print(str.maketrans("abc", "xyz"), "aabbcc".translate(str.maketrans("abc", "xyz", "c")))
print(format(1234567.891, ",.2f"), format(0.5, ".0%"), round(2.675, 2), round(0.5), round(1.5))
