"""URLs, query strings, INI and TOML configuration, shell-like splitting."""
import configparser
import io
import shlex
import tomllib
from urllib.parse import parse_qs, quote, unquote, urlencode, urljoin, urlparse, urlunparse

u = urlparse("https://user:pw@example.com:8443/a/b;p?q=1&q=2&x=%20y#frag")
print(u.scheme, u.hostname, u.port, u.path, u.params, u.fragment, u.username)
print(parse_qs(u.query), urlencode({"a": "b c", "d": ["1", "2"]}, doseq=True), quote("a b/ü"), unquote("%E2%9C%93"))
print(urljoin("https://x.org/docs/guide/", "../api?v=2"), urlunparse(u._replace(query="", fragment="")))
ini = configparser.ConfigParser()
ini.read_string("""
[DEFAULT]
timeout = 30
[server]
host = localhost
port = 8080
debug = yes
[client]
timeout = 5
url = http://%(host)s/
host = example.org
""")
print(ini.sections(), ini["server"].getint("port"), ini.getboolean("server", "debug"), ini["server"]["timeout"])
print(ini.get("client", "url"), ini.getfloat("client", "timeout"), dict(ini["client"]))
out = io.StringIO()
ini.write(out)
print(len(out.getvalue().splitlines()))
doc = tomllib.loads("""
title = "demo"
[owner]
name = "Tom"
dob = 1979-05-27T07:32:00Z
[[servers]]
ip = "10.0.0.1"
ports = [80, 443]
[[servers]]
ip = "10.0.0.2"
enabled = false
""")
print(doc["title"], doc["owner"]["dob"].isoformat(), [s["ip"] for s in doc["servers"]], doc["servers"][1])
try:
    tomllib.loads("a = ")
except tomllib.TOMLDecodeError as e:
    print("TOMLDecodeError:", e)
print(shlex.split("cp -r 'my dir' \"b c\" d\\ e"), shlex.quote("it's"), shlex.join(["a b", "c"]))
