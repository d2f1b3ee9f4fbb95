"""A unittest test file of a small library: the runner's verdict on stdout."""
import io
import sys
import unittest


def slugify(text):
    out = []
    for ch in text.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


class Stack:
    def __init__(self):
        self._items = []

    def push(self, x):
        self._items.append(x)

    def pop(self):
        if not self._items:
            raise IndexError("pop from empty stack")
        return self._items.pop()

    def __len__(self):
        return len(self._items)


class SlugifyTest(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_punctuation(self):
        for text, slug in [("a--b", "a-b"), ("  x  ", "x"), ("C'est la vie!", "c-est-la-vie")]:
            with self.subTest(text=text):
                self.assertEqual(slugify(text), slug)

    @unittest.expectedFailure
    def test_unicode_transliteration(self):
        self.assertEqual(slugify("Ünïcode"), "unicode")

    @unittest.skipIf(sys.maxsize < 2**32, "needs 64-bit")
    def test_big(self):
        self.assertEqual(len(slugify("a" * 10000)), 10000)


class StackTest(unittest.TestCase):
    def setUp(self):
        self.stack = Stack()

    def test_push_pop(self):
        self.stack.push(1)
        self.stack.push(2)
        self.assertEqual([self.stack.pop(), self.stack.pop()], [2, 1])

    def test_empty(self):
        with self.assertRaisesRegex(IndexError, "empty"):
            self.stack.pop()

    def test_len(self):
        self.assertFalse(self.stack)
        self.stack.push(None)
        self.assertEqual(len(self.stack), 1)

    def test_deliberate_failure(self):
        self.assertEqual(self.stack.__class__.__name__, "Queue")

    def test_almost(self):
        self.assertAlmostEqual(0.1 + 0.2, 0.3)
        self.assertCountEqual([3, 1, 2], [1, 2, 3])
        self.assertIn("b", "abc")
        self.assertIsNone(None)
        self.assertDictEqual({"a": 1}, {"a": 1})


stream = io.StringIO()
result = unittest.TextTestRunner(stream=stream, verbosity=2).run(
    unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
for line in stream.getvalue().splitlines():
    if " ... " in line or line.startswith(("FAIL:", "AssertionError", "OK", "FAILED")):
        print(line)
print(result.testsRun, len(result.failures), len(result.errors), len(result.skipped), len(result.expectedFailures))
sys.exit(not result.wasSuccessful())
