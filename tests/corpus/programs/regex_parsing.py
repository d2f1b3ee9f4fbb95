"""Regular expressions on everyday text: named groups, substitution, splitting, flags."""
import re

LOG = "user=alice ip=10.0.0.1 at 2024-02-29T13:45:00; user=bob ip=192.168.1.20 at 2024-03-01T08:05:59"
pattern = re.compile(r"user=(?P<user>\w+) ip=(?P<ip>(?:\d{1,3}\.){3}\d{1,3}) at (?P<when>[\d\-T:]+)")
for m in pattern.finditer(LOG):
    print(m.group("user"), m["ip"], m.span("when"), m.groupdict()["when"])
print(re.sub(r"(\d+)-(\d+)-(\d+)", r"\3/\2/\1", "due 2024-12-25 and 2025-01-01"))
print(re.sub(r"\b(\w)(\w*)\b", lambda m: m.group(1).upper() + m.group(2), "the quick brown fox"))
print(re.split(r"\s*[,;]\s*", "a, b;c ,d ;  e"))
print(re.findall(r"#(\w+)", "loving #python and #regex, not #"))
emails = ["a@b.co", "bad@", "first.last+tag@sub.example.org", "@x.y"]
email = re.compile(r"^[\w.+-]+@([\w-]+\.)+[a-z]{2,}$", re.IGNORECASE)
print([e for e in emails if email.match(e)])
verbose = re.compile(r"""
    (?P<num>-?\d+(?:\.\d+)?)   # a number
    \s*
    (?P<unit>km|m|cm)\b        # its unit
""", re.VERBOSE)
print([(m["num"], m["unit"]) for m in verbose.finditer("ran 5.5 km, then 300 m and -2 cm")])
print(re.fullmatch(r"[A-Z]{3}\d{3}", "ABC123") is not None, re.fullmatch(r"[A-Z]{3}\d{3}", "ABC1234"))
print(re.search(r"(?<=\$)\d+", "cost: $42").group(), re.search(r"colou?r(?!ful)", "colourful color").start())
print(re.subn(r"a", "A", "banana", count=2))
multi = "first line\nsecond line\nthird"
print(re.findall(r"^\w+", multi, re.MULTILINE), re.findall(r"line$", multi, re.M))
print(re.escape("1+1=2? (yes)"))
print(re.sub(r"(?P<word>\w+)", r"<\g<word>>", "a bc"))
print(re.match(r"(a)(b)?", "ac").groups(), re.match(r"(a)(b)?", "ac").groups("-"))
