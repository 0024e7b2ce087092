"""One SMT-LIB term of a small grammar, read into z3 through its API: how an untrusted
document's formula (a PDR certificate's inductive invariant) becomes a solver term.

z3's own reader (``parse_smt2_string``) runs SMT-LIB *commands*: a text that closes the
term's parenthesis can go on with ``(set-option :regular-output-channel "FILE")`` and
``(echo ...)`` and write any file. Here the text is never handed to a solver: it is
checked against size limits, tokenised, read as one s-expression and built term by term
with the z3 API, in the grammar z3 prints inductive invariants over integer state
variables (``invariant.sexpr()``)::

    term := true | false | NUMERAL | VARIABLE | NAME
          | (not t) | (and t+) | (or t+) | (=> t t+) | (= t t+) | (distinct t t+) | (ite t t t)
          | (<= t t+) | (>= t t+) | (< t t+) | (> t t+)
          | (+ t+) | (- t+) | (* t+)                  ; linear: at most one factor not a numeral
          | (let ((NAME t)+) t)
          | (exists ((NAME Int)+) t) | (forall ((NAME Int)+) t)
          | (! t ATTRIBUTE*)        ; ATTRIBUTE: :weight NUMERAL | :qid NAME | :skolemid NAME

``VARIABLE`` is one of the names the caller gives; ``NAME`` a ``let``-bound or quantified
name in scope (Spacer's invariants may quantify over integers); annotations ``(! t ...)``
only steer a solver's quantifier instantiation and are dropped;
``(- NUMERAL)`` is a negative numeral. Sorts are checked (integers and Booleans do not
mix; the whole term is Boolean). Anything else — a string, a keyword, a quoted symbol, a
second term, another operator — is refused with :class:`VerisnnError` before a term is
built, and so are texts over :data:`MAX_CHARS` characters, :data:`MAX_TOKENS` tokens,
:data:`MAX_DEPTH` levels of nesting or numerals of over :data:`MAX_DIGITS` digits, and terms
that written out without their ``let`` sharing would have over :data:`MAX_EXPANDED_NODES` nodes.
"""

from __future__ import annotations

import re
from typing import Mapping

import z3

from .errors import VerisnnError

MAX_CHARS = 1 << 20
MAX_TOKENS = 200_000
MAX_DEPTH = 256  # nested parentheses; z3's invariants nest a few dozen at most
MAX_DIGITS = 100
# nodes of the term written out without sharing: ``let`` chains of a few hundred bytes can
# stand for 2^30 nodes, which solvers and printers then expand (2 GB, then bad_alloc)
MAX_EXPANDED_NODES = 1_000_000

BOOLEAN_OPS = ("not", "and", "or", "=>")
COMPARISONS = ("<=", ">=", "<", ">")
ARITHMETIC = ("+", "-", "*")
OPERATORS = frozenset(BOOLEAN_OPS + COMPARISONS + ARITHMETIC + ("=", "distinct", "ite"))
QUANTIFIERS = ("exists", "forall")
BINDERS = ("let",) + QUANTIFIERS
ANNOTATION = "!"
ATTRIBUTES = {":weight": "numeral", ":qid": "name", ":skolemid": "name"}  # keyword -> what its value is
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_!.]*")
_NUMERAL = re.compile(r"0|[1-9][0-9]*")
_ALLOWED_CHARS = re.compile(r"[\x21-\x7e \t\r\n]*")  # printable ASCII and blanks


def _shown(token: str) -> str:
    return repr(token if len(token) <= 40 else token[:40] + "...")


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` after every size limit is checked (characters, tokens,
    nesting, numeral digits), the characters and tokens are of the grammar and the
    parentheses balance; :class:`VerisnnError` naming the first problem otherwise."""
    if not isinstance(text, str):
        raise VerisnnError(f"a term is text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise VerisnnError(f"{len(text)} characters, more than the {MAX_CHARS} a term may have")
    if not _ALLOWED_CHARS.fullmatch(text):
        bad = next(c for c in text if not _ALLOWED_CHARS.fullmatch(c))
        raise VerisnnError(f"the character {bad!r} is not of the term grammar (printable ASCII only)")
    out, depth, whole = [], 0, False
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if whole:
            raise VerisnnError(f"more than one term: {_shown(tok)} at character {m.start()} follows a whole term")
        if len(out) >= MAX_TOKENS:
            raise VerisnnError(f"more than the {MAX_TOKENS} tokens a term may have")
        if tok == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise VerisnnError(f"nested deeper than the {MAX_DEPTH} levels a term may have")
        elif tok == ")":
            depth -= 1
            if depth < 0:
                raise VerisnnError(f"a ')' without its '(' at character {m.start()}")
        elif tok[0].isdigit():
            if not _NUMERAL.fullmatch(tok):
                raise VerisnnError(f"{_shown(tok)} is not a numeral of the term grammar")
            if len(tok) > MAX_DIGITS:
                raise VerisnnError(f"a numeral of {len(tok)} digits, more than the {MAX_DIGITS} a term may have")
        elif tok not in OPERATORS and tok != ANNOTATION and tok not in ATTRIBUTES and not _NAME.fullmatch(tok):
            raise VerisnnError(f"{_shown(tok)} is not a symbol of the term grammar")
        out.append(tok)
        whole = depth == 0
    if depth:
        raise VerisnnError(f"{depth} '(' without their ')'")
    if not out:
        raise VerisnnError("no term: the text is empty")
    return out


def _tree(toks: list[str]):
    """The s-expression of balanced ``toks``: nested lists of token strings."""
    stack: list[list] = [[]]
    for tok in toks:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    return stack[0][0]


def parse_term(text: str, variables: Mapping[str, z3.ArithRef], ctx: z3.Context) -> z3.BoolRef:
    """The Boolean z3 term that ``text`` writes over the integer ``variables`` (by name),
    built through the API in ``ctx``; :class:`VerisnnError` for any text outside the
    grammar of the module docstring or its limits."""
    tree = _tree(tokens(text))
    for name in variables:
        if not _NAME.fullmatch(name):
            raise VerisnnError(f"the variable name {_shown(name)} is not of the term grammar")
    term = _Builder(variables, ctx).build(tree, {})
    if not z3.is_bool(term):
        raise VerisnnError("the term is an integer, not a formula")
    if expanded_size(term, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
        raise VerisnnError(f"the term written out without its let-sharing has more than the {MAX_EXPANDED_NODES:,} "
                           f"nodes a term may have")
    return term


def expanded_size(term: z3.ExprRef, limit: int) -> int:
    """The nodes of ``term`` written out as a tree (every shared subterm counted as often as
    it is used), counted on the shared term in linear time; stops early past ``limit``."""
    size: dict[int, int] = {}
    stack = [(term, False)]
    while stack:
        node, children_done = stack.pop()
        key = node.get_id()
        if key in size:
            continue
        kids = node.children()
        if children_done:
            size[key] = min(1 + sum(size[k.get_id()] for k in kids), limit + 1)
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if k.get_id() not in size)
    return size[term.get_id()]


class _Builder:
    def __init__(self, variables: Mapping[str, z3.ArithRef], ctx: z3.Context):
        self.variables, self.ctx = variables, ctx

    def build(self, node, scope: dict):
        if isinstance(node, str):
            return self.atom(node, scope)
        if not node:
            raise VerisnnError("an empty application '()'")
        head, args = node[0], node[1:]
        if not isinstance(head, str) or head not in OPERATORS and head not in BINDERS and head != ANNOTATION:
            raise VerisnnError(f"{_shown(head if isinstance(head, str) else '(')} is not an operator of the term "
                               f"grammar")
        if head == "let":
            return self.let(args, scope)
        if head in QUANTIFIERS:
            return self.quantified(head, args, scope)
        if head == ANNOTATION:
            return self.annotated(args, scope)
        if head == "-" and len(args) == 1 and isinstance(args[0], str) and _NUMERAL.fullmatch(args[0]):
            return z3.IntVal(-int(args[0]), self.ctx)  # how z3 prints a negative numeral
        terms = [self.build(a, scope) for a in args]
        return self.apply(head, terms)

    def atom(self, tok: str, scope: dict):
        if _NUMERAL.fullmatch(tok):
            return z3.IntVal(int(tok), self.ctx)
        if tok in ATTRIBUTES:
            raise VerisnnError(f"the attribute {_shown(tok)} stands outside an annotation (! term ...)")
        if tok in ("true", "false"):
            return z3.BoolVal(tok == "true", self.ctx)
        if tok in scope:
            return scope[tok]
        if tok in self.variables:
            return self.variables[tok]
        raise VerisnnError(f"{_shown(tok)} is neither a state variable nor a let-bound name"
                           if _NAME.fullmatch(tok) else f"the operator {_shown(tok)} is not applied")

    def let(self, args: list, scope: dict):
        if len(args) != 2 or isinstance(args[0], str) or not args[0]:
            raise VerisnnError("a let is (let ((name term) ...) term)")
        inner, bound = dict(scope), set()
        for binding in args[0]:
            if isinstance(binding, str) or len(binding) != 2 or not isinstance(binding[0], str):
                raise VerisnnError("a let binding is (name term)")
            name = self.bindable(binding[0], bound, "let")
            inner[name] = self.build(binding[1], scope)  # parallel let: every binding reads the outer scope
        return self.build(args[1], inner)

    def bindable(self, name, bound: set, binder: str) -> str:
        """``name`` if a ``binder`` may bind it (not a keyword, operator or state variable, not
        twice in one binder); it is added to ``bound``."""
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in ("true", "false", "Int") \
                or name in BINDERS or name in self.variables or name in OPERATORS:
            raise VerisnnError(f"{_shown(name if isinstance(name, str) else '(')} cannot be a {binder}-bound name")
        if name in bound:
            raise VerisnnError(f"{_shown(name)} is bound twice in one {binder}")
        bound.add(name)
        return name

    def quantified(self, head: str, args: list, scope: dict):
        if len(args) != 2 or isinstance(args[0], str) or not args[0]:
            raise VerisnnError(f"a quantifier is ({head} ((name Int) ...) formula)")
        inner, bound, constants = dict(scope), set(), []
        for binding in args[0]:
            if isinstance(binding, str) or len(binding) != 2 or binding[1] != "Int":
                raise VerisnnError(f"a {head} binds integers: (name Int)")
            name = self.bindable(binding[0], bound, head)
            # a constant of this context only: the state variables' names are not bindable
            inner[name] = z3.Int(name, self.ctx)
            constants.append(inner[name])
        body = self.build(args[1], inner)
        if not z3.is_bool(body):
            raise VerisnnError(f"({head} ...) takes a formula, not an integer")
        return (z3.Exists if head == "exists" else z3.ForAll)(constants, body)

    def annotated(self, args: list, scope: dict):
        if not args or len(args) % 2 != 1:
            raise VerisnnError("an annotation is (! term :keyword value ...)")
        for key, value in zip(args[1::2], args[2::2]):
            kind = ATTRIBUTES.get(key) if isinstance(key, str) else None
            if kind is None:
                raise VerisnnError(f"{_shown(key if isinstance(key, str) else '(')} is not an attribute of the term "
                                   f"grammar ({', '.join(ATTRIBUTES)})")
            if not isinstance(value, str) or not (_NUMERAL if kind == "numeral" else _NAME).fullmatch(value):
                raise VerisnnError(f"the attribute {key} takes a {kind}")
        return self.build(args[0], scope)  # attributes steer instantiation only: the term is the same

    def apply(self, op: str, terms: list):
        bools = [z3.is_bool(t) for t in terms]

        def need(count_ok: bool, what: str):
            if not count_ok:
                raise VerisnnError(f"({op} ...) takes {what}, got {len(terms)} argument(s)")

        if op in BOOLEAN_OPS:
            need(len(terms) == 1 if op == "not" else len(terms) >= (2 if op == "=>" else 1),
                 "one formula" if op == "not" else "formulas")
            if not all(bools):
                raise VerisnnError(f"({op} ...) takes formulas, not integers")
            if op == "not":
                return z3.Not(terms[0], self.ctx)
            if op == "and":
                return z3.And(*terms)
            if op == "or":
                return z3.Or(*terms)
            out = terms[-1]
            for t in reversed(terms[:-1]):  # right-associative
                out = z3.Implies(t, out, self.ctx)
            return out
        if op in ("=", "distinct"):
            need(len(terms) >= 2, "two or more terms")
            if len(set(bools)) != 1:
                raise VerisnnError(f"({op} ...) compares terms of one sort, not integers with formulas")
            if op == "distinct":
                return z3.Distinct(*terms)
            return self.chain(z3.Z3_mk_eq, terms)
        if op == "ite":
            need(len(terms) == 3, "a condition and two branches")
            if not bools[0] or bools[1] != bools[2]:
                raise VerisnnError("(ite c a b) takes a formula c and two branches of one sort")
            return z3.If(terms[0], terms[1], terms[2], self.ctx)
        if any(bools):
            raise VerisnnError(f"({op} ...) takes integers, not formulas")
        if op in COMPARISONS:
            need(len(terms) >= 2, "two or more integers")
            return self.chain({"<=": z3.Z3_mk_le, ">=": z3.Z3_mk_ge, "<": z3.Z3_mk_lt, ">": z3.Z3_mk_gt}[op], terms)
        need(len(terms) >= 1, "one or more integers")
        if op == "+":
            return terms[0] if len(terms) == 1 else z3.Sum(*terms)
        if op == "-":
            if len(terms) == 1:
                return -terms[0]
            out = terms[0]
            for t in terms[1:]:
                out = out - t
            return out
        if sum(not z3.is_int_value(t) for t in terms) > 1:
            raise VerisnnError("(* ...) multiplies at most one term that is not a numeral (linear arithmetic)")
        return terms[0] if len(terms) == 1 else z3.Product(*terms)

    def chain(self, make, terms: list) -> z3.BoolRef:
        """``(op a b c)`` as ``(op a b) and (op b c)``, each made by the C API (z3's Python
        operators may swap the sides of a comparison)."""
        pairs = [z3.BoolRef(make(self.ctx.ref(), a.as_ast(), b.as_ast()), self.ctx) for a, b in zip(terms, terms[1:])]
        return pairs[0] if len(pairs) == 1 else z3.And(*pairs)


__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_DIGITS", "MAX_EXPANDED_NODES", "MAX_TOKENS", "expanded_size", "parse_term",
           "tokens"]
