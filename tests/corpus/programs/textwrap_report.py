"""Formatting paragraphs for a terminal report: textwrap, shorten, indent, dedent."""
import textwrap

PARA = ("The flight recorder keeps what the program received while it ran, so that the run "
        "can be replayed later, line by line, with every variable at every step, "
        "without running it against the real world again.")
for width in (30, 50):
    print(f"--- width {width}")
    print(textwrap.fill(PARA, width=width))
print(textwrap.wrap(PARA, 40)[:2])
print(textwrap.shorten(PARA, width=60, placeholder=" [...]"))
print(textwrap.indent("first\n\nsecond\nthird", "> "))
print(textwrap.indent("a\nb", "+ ", predicate=lambda line: line.startswith("b")))
code = """
    def f():
        return 1
"""
print(textwrap.dedent(code).strip())
wrapper = textwrap.TextWrapper(width=36, initial_indent="* ", subsequent_indent="  ", break_long_words=True)
print(wrapper.fill("Supercalifragilisticexpialidocious-and-hyphenated-words wrap where they may."))
print(textwrap.fill("a  b   c", width=10, replace_whitespace=True), "|", textwrap.fill("tabs\tare\texpanded", 40))
