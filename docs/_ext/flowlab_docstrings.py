"""Sphinx extension: flowlab's docstrings write mathematics as plain text.

``|x|`` (an absolute value) and ``int_a^b`` read as reStructuredText substitutions and
references; this hook escapes them in the prose of every docstring autodoc reads,
leaving inline literals (````...````), roles, doctest lines and literal blocks alone.
"""

import re

_LITERAL = re.compile(r"(``.*?``|`[^`]*`_?|:[a-z:]+:`[^`]*`)")
_BAR = re.compile(r"(?<!\\)\|")
_TRAILING_UNDERSCORE = re.compile(r"(\w)_(?=[^\w{`]|$)")


def _escape(text: str) -> str:
    parts = _LITERAL.split(text)
    for k in range(0, len(parts), 2):            # the parts outside literals and roles
        parts[k] = _TRAILING_UNDERSCORE.sub(r"\1\\_", _BAR.sub(r"\\|", parts[k]))
    return "".join(parts)


def process(app, what, name, obj, options, lines):
    literal_indent = None
    for k, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        if stripped.startswith((">>>", "...")) or stripped.startswith(".. "):
            continue
        lines[k] = _escape(line)
        if stripped.endswith("::"):
            literal_indent = indent


def setup(app):
    app.connect("autodoc-process-docstring", process)
    return {"parallel_read_safe": True, "version": "1"}
