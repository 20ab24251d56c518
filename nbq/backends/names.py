"""Turn arbitrary (ONNX) names into unique, valid, deterministic C identifiers."""

from __future__ import annotations

import hashlib
import re

from nbq.backends.escape import comment_text  # noqa: F401  (re-exported: names and comments together)

# C and C++ keywords plus a few names a generated file must not shadow.
_RESERVED = frozenset(
    """
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t char32_t
    char8_t class compl concept const const_cast consteval constexpr constinit continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export extern
    false float for friend goto if inline int long mutable namespace new noexcept not not_eq nullptr
    operator or or_eq private protected public register reinterpret_cast requires restrict return
    short signed sizeof static static_assert static_cast struct switch template this thread_local
    throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
    xor xor_eq main std hls nbq ap_int ap_uint ap_fixed ap_ufixed NULL
    """.split()
)

MAX_LENGTH = 48


def c_identifier(name: str, max_length: int = MAX_LENGTH) -> str:
    """A valid C identifier close to `name`: [A-Za-z0-9_], no '__', no leading digit or '_', not a keyword.

    Names longer than max_length keep their tail (ONNX names end in the distinctive part)
    plus a short hash of the full name, so different long names stay different.
    """
    ident = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    if not ident:
        ident = "v"
    if ident[0].isdigit():
        ident = "n" + ident
    if len(ident) > max_length:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        tail = ident[-(max_length - 8) :].lstrip("_")
        ident = f"{'n' if tail[:1].isdigit() else ''}{tail}_{digest}"
    if ident in _RESERVED:
        ident += "_"
    return ident


class NameTable:
    """Hands out unique identifiers in call order (so the result is deterministic).

    Uniqueness ignores case, because identifiers also become file names.
    """

    def __init__(self, taken: tuple[str, ...] = ()) -> None:
        self._taken = {t.lower() for t in taken}
        self._given: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        return self._given[name]

    def __contains__(self, name: str) -> bool:
        return name in self._given

    def add(self, name: str) -> str:
        """The identifier for `name` (the same one if `name` was added before)."""
        if name not in self._given:
            self._given[name] = self.fresh(name)
        return self._given[name]

    def fresh(self, name: str) -> str:
        """A new identifier close to `name`, distinct from every one handed out so far."""
        base = c_identifier(name)
        ident, k = base, 2
        while ident.lower() in self._taken:
            ident = f"{base}_{k}"
            k += 1
        self._taken.add(ident.lower())
        return ident
