r"""The template language: variables with fallbacks, and spintax. Pure, no I/O.

    Hello {{ name | dear customer }}!   a variable, with a fallback for a missing/blank value
    {Hi|Hello|Salam}                    spintax: one option drawn per message
    {Hi {there|friend}|Hello}           groups nest; a group of one option renders it: {word}
    \{  \}  \|  \\                      a backslash makes the next special character literal

- A variable name is letters (any script), digits and ``_``, not starting with a digit;
  spaces around the name and the fallback are ignored. A fallback is plain text up to
  ``}}`` (no unescaped braces; ``|`` after the first one is literal).
- ``{{`` opens a variable when the next unescaped brace is the ``}}`` that closes it;
  otherwise it is a group whose first option begins with a group (``{{Hi|Hey} you|Yo}``).
- ``|`` outside a group is plain text; so is a backslash before any other character.
- A value is used stripped of surrounding spaces; a missing or blank one gives the
  fallback, or nothing without one.

``check`` lists every problem of a text; ``compile_template`` raises ``ValidationError``
for the first syntax problem and returns a ``CompiledTemplate`` that renders fast: a
printf-style pattern this module builds from the text's literals (``%`` doubled) gets the
values as data, so user text is never code. ``escape`` makes any text a literal template.

Reasons (``Problem.reason`` / ``ValidationError.reason``), each at a 1-based line and
column counted in characters:
    unclosed_variable  ``{{`` never closed (at the ``{{``; detail: the name, if any)
    unclosed_spintax   ``{`` never closed (at the ``{``)
    unopened_brace     a ``}`` that closes nothing (at it)
    empty_option       ``{}``, ``{|a}``, ``{a||b}``, ``{a|}`` (at the ``|`` or ``}`` after
                       the empty option); an option of spaces is not empty
    bad_variable       ``{{first name}}``, ``{{1x}}``, ``{{}}`` (at the ``{{``; detail: the name)
    unknown_variable   only from ``check(text, known)`` (at the ``{{``; detail: the name)
    too_long           only from ``check``: where the longest rendering passes MAX_LENGTH
                       (detail: that length; limit: MAX_LENGTH)
    empty              only from ``check``: a blank text (line 1, column 1)
The first five are syntax (``SYNTAX_REASONS``); ``compile_template`` ignores the others.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from bisect import bisect_right
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from bot.errors import ValidationError

__all__ = [
    "MAX_LENGTH",
    "SYNTAX_REASONS",
    "CompiledTemplate",
    "Problem",
    "check",
    "compile_template",
    "escape",
]

MAX_LENGTH: Final = 4096  # WhatsApp's limit for a text message

# Spintax combinations precomputed per compiled text: at most this many patterns, and at
# most PATTERNS_CHARS characters of them (a cache of compiled texts stays small).
PATTERNS_MAX: Final = 256
PATTERNS_CHARS: Final = 1 << 14
SYNTAX_REASONS: Final = frozenset(
    {"unclosed_variable", "unclosed_spintax", "unopened_brace", "empty_option", "bad_variable"}
)

_SPECIAL: Final = "{}|\\"
_PLAIN = re.compile(r"[^{}|\\]+")
_BRACE_OR_ESCAPE = re.compile(r"[{}\\]")
_PIPE_OR_ESCAPE = re.compile(r"[|\\]")
_NAME = re.compile(r"[^\W\d]\w*")
_ESCAPED = re.compile(r"\\([{}|\\])")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a text, where it starts (1-based line and column)."""

    reason: str
    line: int
    column: int
    detail: str = ""  # the unknown/bad variable's text; for too_long the estimated length
    limit: int = 0  # for too_long: MAX_LENGTH


def escape(text: str) -> str:
    """``text`` as a template that renders exactly ``text``."""
    return text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}").replace("|", "\\|")


# --- parsing ---------------------------------------------------------------------------------


class _Lit:
    __slots__ = ("parts",)

    def __init__(self, offset: int, text: str) -> None:
        self.parts = [(offset, text)]  # source offset of each piece; plain pieces map 1:1

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.parts)


class _Var:
    __slots__ = ("fallback", "name", "offset")

    def __init__(self, name: str, fallback: str, offset: int) -> None:
        self.name = name
        self.fallback = fallback
        self.offset = offset


class _Group:
    __slots__ = ("offset", "options")

    def __init__(self, options: list[list], offset: int) -> None:
        self.options = options
        self.offset = offset


class _Frame:
    __slots__ = ("name", "offset", "options")

    def __init__(self, offset: int, name: str) -> None:
        self.offset = offset
        self.options: list[list] = [[]]
        self.name = name  # opened by "{{name}" (or "{{name|fallback}"): a broken variable?


def _add_literal(seq: list, offset: int, text: str) -> None:
    if seq and type(seq[-1]) is _Lit:
        seq[-1].parts.append((offset, text))
    else:
        seq.append(_Lit(offset, text))


def _next_brace(text: str, start: int) -> int:
    """Index of the first unescaped brace at or after ``start``, or ``len(text)``."""
    search = _BRACE_OR_ESCAPE.search
    while (found := search(text, start)) is not None:
        if found.group() != "\\":
            return found.start()
        start = found.start() + 2
    return len(text)


def _split_variable(raw: str) -> tuple[str, str | None]:
    """``name`` and fallback (unescaped, stripped) of what is inside ``{{ }}``."""
    start = 0
    search = _PIPE_OR_ESCAPE.search
    while (found := search(raw, start)) is not None:
        if found.group() == "|":
            fallback = _ESCAPED.sub(r"\1", raw[found.end():])
            return raw[: found.start()].strip(), fallback.strip()
        start = found.start() + 2
    return raw.strip(), None


def _parse(text: str) -> tuple[list, list[tuple[int, str, str]], list[_Var]]:
    """The text as a tree (lists of _Lit/_Var/_Group), its syntax problems, its variables.

    Never stops at a problem: every one is collected, and unclosed groups are closed at the
    end so that the tree can still be measured.
    """
    problems: list[tuple[int, str, str]] = []
    found_vars: list[_Var] = []
    root: list = []
    stack: list[_Frame] = []
    current = root
    n = len(text)
    i = 0
    plain = _PLAIN.match
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _SPECIAL:
            _add_literal(current, i, text[i + 1])
            i += 2
        elif c == "{":
            var_like = ""
            if i + 1 < n and text[i + 1] == "{":
                j = _next_brace(text, i + 2)
                if j == n:
                    name = _split_variable(text[i + 2:])[0]
                    name = name if _NAME.fullmatch(name) else ""
                    problems.append((i, "unclosed_variable", name))
                    _add_literal(current, i, text[i:])
                    break
                name, fallback = _split_variable(text[i + 2 : j])
                is_name = _NAME.fullmatch(name) is not None
                if text.startswith("}}", j):
                    if is_name:
                        var = _Var(name, fallback or "", i)
                        found_vars.append(var)
                        current.append(var)
                    else:
                        problems.append((i, "bad_variable", name))
                        _add_literal(current, i, text[i : j + 2])
                    i = j + 2
                    continue
                var_like = name if is_name else ""
            frame = _Frame(i, var_like)
            stack.append(frame)
            current = frame.options[-1]
            i += 1
        elif c == "|" and stack:
            if not current:
                problems.append((i, "empty_option", ""))
            current = []
            stack[-1].options.append(current)
            i += 1
        elif c == "}":
            if stack:
                if not current:
                    problems.append((i, "empty_option", ""))
                frame = stack.pop()
                current = stack[-1].options[-1] if stack else root
                current.append(_Group(frame.options, frame.offset))
            else:
                problems.append((i, "unopened_brace", ""))
                _add_literal(current, i, c)
            i += 1
        else:
            run = plain(text, i)
            end = run.end() if run is not None else i + 1
            _add_literal(current, i, text[i:end])
            i = end
    while stack:
        frame = stack.pop()
        reason = "unclosed_variable" if frame.name else "unclosed_spintax"
        problems.append((frame.offset, reason, frame.name))
        current = stack[-1].options[-1] if stack else root
        current.append(_Group(frame.options, frame.offset))
    problems.sort(key=lambda p: p[0])
    return root, problems, found_vars


def _bottom_up(root: list) -> list:
    """Every sequence (option list) and group of the tree, children before parents."""
    order: list = []
    todo: list = [root]
    while todo:
        item = todo.pop()
        order.append(item)
        if type(item) is list:
            todo.extend(node for node in item if type(node) is _Group)
        else:
            todo.extend(item.options)
    order.reverse()
    return order


def _longest(root: list, var_length) -> int:
    """Length of the longest rendering: each group's longest option, ``var_length(var)``."""
    sizes: dict[int, int] = {}
    for item in _bottom_up(root):
        if type(item) is list:
            total = 0
            for node in item:
                kind = type(node)
                if kind is _Lit:
                    total += sum(len(text) for _, text in node.parts)
                elif kind is _Var:
                    total += var_length(node)
                else:
                    total += sizes[id(node)]
            sizes[id(item)] = total
        else:
            sizes[id(item)] = max(sizes[id(option)] for option in item.options)
    return sizes[id(root)]


def _fallback_length(var: _Var) -> int:
    return len(var.fallback)


def _too_long_at(root: list, limit: int) -> tuple[int, int] | None:
    """(offset where the longest rendering passes ``limit``, its length), or None if it fits.

    A variable counts as its fallback (0 without one): its values are not known yet.
    """
    total = _longest(root, _fallback_length)
    if total <= limit:
        return None
    so_far = 0
    for node in root:
        if type(node) is _Lit:
            for offset, text in node.parts:
                if so_far + len(text) > limit:
                    return offset + limit - so_far, total
                so_far += len(text)
        else:
            size = _longest([node], _fallback_length)
            if so_far + size > limit:
                return node.offset, total
            so_far += size
    return 0, total  # not reached: the top level adds up to ``total``


class _Positions:
    """Offsets to 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def check(text: str, known: Collection[str] | None = None) -> list[Problem]:
    """Every problem of ``text``, in text order; ``[]`` when it can be saved.

    ``known`` lists the variables the owner's contacts have (None: do not check names).
    ``too_long`` is reported where the longest possible rendering passes ``MAX_LENGTH``;
    variables count as their fallback's length (0 without one), so a message may still
    come out longer with real values (``CompiledTemplate.longest(values)`` tells).
    """
    if not text.strip():
        return [Problem("empty", 1, 1)]
    root, found, variables = _parse(text)
    problems = list(found)
    if known is not None:
        names = known if isinstance(known, (set, frozenset)) else frozenset(known)
        problems.extend((var.offset, "unknown_variable", var.name)
                        for var in variables if var.name not in names)
    too_long = _too_long_at(root, MAX_LENGTH)
    if too_long is not None:
        problems.append((too_long[0], "too_long", str(too_long[1])))
    problems.sort(key=lambda p: p[0])
    where = _Positions(text)
    return [
        Problem(reason, *where(offset), detail=detail,
                limit=MAX_LENGTH if reason == "too_long" else 0)
        for offset, reason, detail in problems
    ]


# --- compiled form ---------------------------------------------------------------------------

# Inside a group option that is not plain text, the option is a tuple of operations:
_LIT, _VAR, _SPIN = 0, 1, 2  # (_LIT, text) (_VAR, name, fallback) (_SPIN, (option ops, ...))


def _render_ops(ops: tuple, get, draw) -> str:
    """Render nested operations without recursion (groups may nest deeply)."""
    out: list[str] = []
    stack: list[tuple[tuple, int]] = []
    i = 0
    while True:
        if i == len(ops):
            if not stack:
                return "".join(out)
            ops, i = stack.pop()
            continue
        op = ops[i]
        i += 1
        kind = op[0]
        if kind == _LIT:
            out.append(op[1])
        elif kind == _VAR:
            out.append((get(op[1]) or "").strip() or op[2])
        else:
            options = op[1]
            stack.append((ops, i))
            ops, i = options[int(draw() * len(options))], 0


def _expand(options: tuple, limit: int, depth: int = 0) -> list[str] | None:
    """Every text of a group without variables, repeated so that one drawn uniformly from
    the list comes out as often as the group would draw it (``{a|{b|c}}`` -> a a b c).

    None if the group holds a variable, nests deeper than 16 or needs more than ``limit``.
    """
    if depth > 16:
        return None
    per_option: list[list[str]] = []
    for ops in options:
        texts = [""]
        for op in ops:
            if op[0] == _LIT:
                texts = [text + op[1] for text in texts]
            elif op[0] == _VAR:
                return None
            else:
                inner = _expand(op[1], limit, depth + 1)
                if inner is None or len(texts) * len(inner) > limit:
                    return None
                texts = [a + b for a in texts for b in inner]
        per_option.append(texts)
    common = math.lcm(*(len(texts) for texts in per_option))
    if common * len(per_option) > limit:
        return None
    return [text for texts in per_option for text in texts * (common // len(texts))]


class CompiledTemplate:
    """One text, ready to render many times.

    ``render`` picks a printf-style pattern built here from the text's literals (their ``%``
    doubled) and fills its ``%s`` slots, in text order. Values are inserted as data and never
    parsed again. Top-level groups without variables are drawn by picking the pattern: one
    per combination of their texts (up to ``PATTERNS_MAX``), a text repeated as often as
    needed to keep each group's options equally likely at every level.
    """

    __slots__ = ("_choices", "_distinct", "_only_vars", "_patterns", "_slots", "_tree", "_vars",
                 "bare", "text", "variables")

    def __init__(self, text: str, tree: list) -> None:
        self.text = text
        self._tree = tree
        compiled: dict[int, tuple] = {}
        counts: dict[int, int] = {}
        names: set[str] = set()
        bare: set[str] = set()  # used somewhere without a fallback
        for item in _bottom_up(tree):
            if type(item) is _Group:
                compiled[id(item)] = tuple(compiled[id(option)] for option in item.options)
                counts[id(item)] = sum(counts[id(option)] for option in item.options)
                continue
            ops: list[tuple] = []
            product = 1
            for node in item:
                kind = type(node)
                if kind is _Lit:
                    ops.append((_LIT, node.text))
                elif kind is _Var:
                    ops.append((_VAR, node.name, node.fallback))
                    names.add(node.name)
                    if not node.fallback:
                        bare.add(node.name)
                else:
                    ops.append((_SPIN, compiled[id(node)]))
                    product *= counts[id(node)]
            compiled[id(item)] = tuple(ops)
            counts[id(item)] = product
        self.variables = frozenset(names)
        self.bare = frozenset(bare)
        self._distinct = counts[id(tree)]

        # Top-level groups without variables are baked into a table of patterns, one per
        # combination (while the table stays small); every other group, and every variable,
        # is a slot: (name, fallback, None, 0) or (None, None, options, count), where an
        # option is a str or, if it holds variables or groups, an operations tuple.
        room = max(1, min(PATTERNS_MAX, PATTERNS_CHARS // max(1, len(text))))
        baked: list[tuple[str, ...]] = []
        pieces: list[str | int | None] = []  # literal, index into ``baked``, or None: a slot
        slots: list[tuple] = []
        for node in tree:
            kind = type(node)
            if kind is _Lit:
                pieces.append(node.text.replace("%", "%%"))
            elif kind is _Var:
                pieces.append(None)
                slots.append((node.name, node.fallback, None, 0))
            else:
                texts = _expand(compiled[id(node)], room)
                if texts is not None:
                    room //= len(texts)
                    pieces.append(len(baked))
                    baked.append(tuple(o.replace("%", "%%") for o in texts))
                else:
                    options = tuple(
                        option[0][1] if len(option) == 1 and option[0][0] == _LIT
                        else "" if not option
                        else option
                        for option in compiled[id(node)]
                    )
                    pieces.append(None)
                    slots.append((None, None, options, len(options)))
        self._patterns = tuple(
            "".join("%s" if piece is None else piece if isinstance(piece, str) else choice[piece]
                    for piece in pieces)
            for choice in itertools.product(*baked)
        )
        self._choices = len(self._patterns)
        self._slots = tuple(slots)
        self._vars = tuple((name, fallback) for name, fallback, options, _ in slots
                           if options is None)
        self._only_vars = len(self._vars) == len(slots)

    def render(self, values: Mapping[str, str], rng: random.Random) -> str:
        """One message: values filled in (stripped; blank/missing -> fallback), groups drawn.

        Each group draws uniformly among its options with ``rng.random()``.
        """
        get = values.get
        patterns = self._patterns
        pattern = patterns[int(rng.random() * self._choices)] if self._choices > 1 else (
            patterns[0])
        args: list[str] = []
        add = args.append
        if self._only_vars:  # a plain loop: faster than a comprehension on Python 3.11
            for name, fallback in self._vars:
                add((get(name) or "").strip() or fallback)
            return pattern % tuple(args)
        draw = rng.random
        for name, fallback, options, count in self._slots:
            if options is None:
                add((get(name) or "").strip() or fallback)
            else:
                chosen = options[int(draw() * count)]
                add(chosen if type(chosen) is str else _render_ops(chosen, get, draw))
        return pattern % tuple(args)

    def distinct_texts(self) -> int:
        """How many texts spintax can make: options add up, groups in a row multiply.

        A variable counts once; options that happen to read the same count separately.
        """
        return self._distinct

    def longest(self, values: Mapping[str, str] | None = None) -> int:
        """Length of the longest rendering, for ``values`` (None: fallbacks only)."""
        if values is None:
            return _longest(self._tree, _fallback_length)
        get = values.get
        return _longest(self._tree, lambda var: len((get(var.name) or "").strip() or var.fallback))

    def __repr__(self) -> str:
        return f"CompiledTemplate({self.text!r})"


def compile_template(text: str) -> CompiledTemplate:
    """Compile one text; raises ``ValidationError`` for its first syntax problem.

    The error has ``reason`` (one of ``SYNTAX_REASONS``), ``where="line L, column C"`` and
    ``params`` ``line``, ``column``, ``detail``. Unknown variables, length and blank texts
    are ``check``'s business, not errors here (a blank text renders "").
    """
    tree, problems, _ = _parse(text)
    if problems:
        offset, reason, detail = problems[0]
        line, column = _Positions(text)(offset)
        error = ValidationError(reason, where=f"line {line}, column {column}", line=line,
                                column=column)
        # QasidError takes ``detail`` as its message, so the keyword cannot carry it.
        error.params["detail"] = detail
        raise error
    return CompiledTemplate(text, tree)
