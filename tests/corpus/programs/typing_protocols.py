"""Type hints at run time: TypedDict, NamedTuple, Protocol, generics, get_type_hints."""
from typing import (Any, Callable, Dict, Generic, List, NamedTuple, Optional, Protocol, TypedDict,
                    TypeVar, Union, get_args, get_origin, get_type_hints, runtime_checkable)

T = TypeVar("T")


class Movie(TypedDict):
    title: str
    year: int


class Point(NamedTuple):
    x: float
    y: float = 0.0

    def norm(self) -> float:
        return (self.x ** 2 + self.y ** 2) ** 0.5


@runtime_checkable
class Closable(Protocol):
    def close(self) -> None: ...


class Resource:
    def close(self) -> None:
        print("closed")


class Stack(Generic[T]):
    def __init__(self) -> None:
        self.items: List[T] = []

    def push(self, item: T) -> None:
        self.items.append(item)

    def pop(self) -> T:
        return self.items.pop()


def apply(f: Callable[[int], str], xs: List[int]) -> Dict[int, str]:
    return {x: f(x) for x in xs}


movie: Movie = {"title": "Up", "year": 2009}
print(movie, Movie.__required_keys__ == frozenset({"title", "year"}))
p = Point(3, 4)
print(p, p.norm(), p._replace(y=0), p._asdict(), Point._fields, Point._field_defaults)
print(isinstance(Resource(), Closable), isinstance(42, Closable))
s: Stack[int] = Stack()
s.push(1)
s.push(2)
print(s.pop(), Stack[int].__origin__ is Stack)
print(apply(str, [1, 2]))
hints = get_type_hints(apply)
print(sorted(hints), get_origin(hints["xs"]) is list, get_args(hints["return"]))
print(get_args(Optional[int]), get_origin(Union[int, str]) is Union, get_args(int | None))
print(Optional[int] == Union[int, None], List[int] == List[int])
