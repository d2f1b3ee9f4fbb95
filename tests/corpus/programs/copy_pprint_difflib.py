"""Deep copies, pretty printing of nested data, and text diffs."""
import copy
import difflib
import pprint

config = {"name": "svc", "replicas": 3, "env": {"LOG": "info", "PORTS": [80, 443]},
          "volumes": [{"name": "data", "size": "10Gi", "mounts": ["/var/lib/data", "/backup"]}], "tags": ("a", "b")}
shallow = copy.copy(config)
deep = copy.deepcopy(config)
config["env"]["LOG"] = "debug"
config["volumes"][0]["mounts"].append("/tmp")
print(shallow["env"]["LOG"], deep["env"]["LOG"], len(deep["volumes"][0]["mounts"]), deep["tags"] is config["tags"])
pprint.pprint(config, width=60, sort_dicts=True)
print(pprint.pformat(list(range(30)), width=40, compact=True))
print(pprint.pformat({"deep": {"er": {"est": {"x": 1}}}}, depth=2))
before = ["def add(a, b):", "    return a + b", "", "print(add(1, 2))"]
after = ["def add(a, b, c=0):", "    return a + b + c", "", "print(add(1, 2))", "print(add(1, 2, 3))"]
print("\n".join(difflib.unified_diff(before, after, "a.py", "b.py", lineterm="")))
print(difflib.get_close_matches("appel", ["ape", "apple", "peach", "puppy"]))
sm = difflib.SequenceMatcher(None, "kitten sitting", "sitting kitten")
print(round(sm.ratio(), 6), sm.get_matching_blocks()[:2])
print(list(difflib.ndiff(["one", "two"], ["one", "too"])))


class Node:
    def __init__(self, name):
        self.name, self.children, self.parent = name, [], None

    def add(self, child):
        child.parent = self
        self.children.append(child)
        return child


root = Node("root")
root.add(Node("a")).add(Node("a1"))
clone = copy.deepcopy(root)
print(clone.children[0].children[0].parent is clone.children[0], clone.children[0].parent is clone, clone is not root)
