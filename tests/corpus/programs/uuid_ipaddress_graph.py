"""Deterministic identifiers, network addresses, dependency ordering and calendars."""
import calendar
import ipaddress
import uuid
from graphlib import CycleError, TopologicalSorter

print(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"), uuid.uuid3(uuid.NAMESPACE_URL, "https://x.org"))
u = uuid.UUID("12345678-1234-5678-1234-567812345678")
print(u.hex, u.int % 1000, u.version, str(uuid.UUID(bytes=u.bytes)) == str(u), len(str(uuid.uuid4())))
net = ipaddress.ip_network("192.168.10.0/26")
print(net.num_addresses, net.netmask, net.broadcast_address, list(net.subnets(new_prefix=28))[1])
addr = ipaddress.ip_address("192.168.10.37")
print(addr in net, addr.is_private, ipaddress.ip_address("2001:db8::1").exploded, ipaddress.ip_address(3232238117))
print(sorted(ipaddress.collapse_addresses([ipaddress.ip_network("10.0.0.0/25"), ipaddress.ip_network("10.0.0.128/25")])))
deps = {"app": {"lib", "config"}, "lib": {"core"}, "config": {"core"}, "tests": {"app"}}
ts = TopologicalSorter(deps)
ts.prepare()
order = []
while ts.is_active():
    ready = sorted(ts.get_ready())
    order.append(ready)
    ts.done(*ready)
print(order)
try:
    list(TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
except CycleError as e:
    print("cycle:", sorted(e.args[1]))
print(calendar.TextCalendar(calendar.MONDAY).formatmonth(2024, 2))
print(calendar.isleap(2100), calendar.leapdays(2000, 2025), calendar.monthrange(2024, 2), calendar.weekday(2024, 7, 4))
