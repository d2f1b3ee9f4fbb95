"""An inventory modelled with dataclasses: ordering, defaults, frozen, replace, asdict."""
from dataclasses import dataclass, field, asdict, astuple, replace, fields, FrozenInstanceError
from typing import List


@dataclass(order=True)
class Item:
    sort_index: float = field(init=False, repr=False)
    name: str
    price: float
    quantity: int = 0
    tags: List[str] = field(default_factory=list)

    def __post_init__(self):
        self.sort_index = self.price * self.quantity

    @property
    def total(self):
        return self.price * self.quantity


@dataclass(frozen=True)
class Location:
    aisle: int
    shelf: str = "A"


items = [Item("bolt", 0.10, 500, ["hardware"]), Item("hammer", 12.5, 3), Item("saw", 20.0, 2, ["tools", "sharp"])]
for item in sorted(items, reverse=True):
    print(item, f"total={item.total:.2f}")
print(asdict(items[2]))
print(astuple(items[1]))
print([f.name for f in fields(Item)])
loc = Location(3)
print(loc, hash(loc) == hash(Location(3, "A")), loc == Location(3))
try:
    loc.aisle = 4
except FrozenInstanceError as e:
    print("frozen:", type(e).__name__)
moved = replace(loc, shelf="C")
print(moved, moved < loc if hasattr(moved, "__lt__") and Location.__lt__ is not object.__lt__ else "unordered")
print(Item("x", 1.0) == Item("x", 1.0), Item("x", 1.0) == Item("x", 2.0))
