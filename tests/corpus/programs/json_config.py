"""Loads, merges, validates and dumps JSON configuration."""
import json

DEFAULTS = {"server": {"host": "127.0.0.1", "port": 8080, "tls": False},
            "workers": 4, "tags": ["a", "b"], "ratio": 0.75}
USER = '{"server": {"port": 9090, "tls": true}, "workers": 8, "tags": ["c"], "name": "caf\\u00e9", "extra": null}'


def merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


config = merge(DEFAULTS, json.loads(USER))
print(json.dumps(config, sort_keys=True, indent=2))
print(json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
print(json.dumps([1.5, 1e100, -0.0, 10**20, "tab\there", "\u2603"]))
for bad in ['{"a": 1,}', "[1, 2", '{"a" 1}', "nan?"]:
    try:
        json.loads(bad)
    except json.JSONDecodeError as e:
        print("error:", e.msg, "at", e.pos)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def encode(obj):
    if isinstance(obj, Point):
        return {"__point__": [obj.x, obj.y]}
    raise TypeError(f"cannot encode {type(obj).__name__}")


def decode(d):
    if "__point__" in d:
        return Point(*d["__point__"])
    return d


text = json.dumps({"origin": Point(0, 0), "end": Point(3, 4)}, default=encode, sort_keys=True)
print(text)
back = json.loads(text, object_hook=decode)
print(type(back["end"]).__name__, back["end"].x, back["end"].y)
try:
    json.dumps({1, 2})
except TypeError as e:
    print("TypeError:", e)
