"""Enums as a program uses them: a state machine, flags, auto values, lookups."""
from enum import Enum, IntEnum, Flag, IntFlag, auto, unique


@unique
class State(Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"

    @property
    def terminal(self):
        return self is State.DONE


TRANSITIONS = {
    State.IDLE: {State.RUNNING},
    State.RUNNING: {State.PAUSED, State.DONE},
    State.PAUSED: {State.RUNNING, State.DONE},
}


class Priority(IntEnum):
    LOW = auto()
    MEDIUM = auto()
    HIGH = auto()


class Perm(Flag):
    R = auto()
    W = auto()
    X = auto()
    RW = R | W


class Mode(IntFlag):
    OWNER = 0o700
    GROUP = 0o070


state = State.IDLE
for target in ["running", "paused", "running", "done", "idle"]:
    nxt = State(target)
    if nxt in TRANSITIONS.get(state, set()):
        print(f"{state.name} -> {nxt.name}")
        state = nxt
    else:
        print(f"refused {state.name} -> {nxt.name}; terminal={state.terminal}")
print(list(State), State["PAUSED"], State.PAUSED.value, repr(State.DONE))
print(sorted([Priority.HIGH, Priority.LOW, Priority.MEDIUM]), Priority.HIGH > 2, Priority(2).name, int(Priority.HIGH))
p = Perm.R | Perm.X
print(p, Perm.R in p, Perm.W in p, bool(Perm.R & Perm.W), Perm.RW, [m.name for m in Perm])
print(Mode.OWNER | Mode.GROUP, int(Mode.OWNER | 4))
try:
    State("flying")
except ValueError as e:
    print("ValueError:", e)
print({s.name: s.value for s in State}, State.IDLE == "idle", isinstance(State.IDLE, State))
Color = Enum("Color", "RED GREEN BLUE")
print(Color.GREEN.value, [c.name for c in Color], Color(3))
