"""The generated HLS C++ is written the way Vitis HLS schedules it (UG1399), checked on its text.

Vitis is not installed here, so what the tool would do with a construct is checked by the
construct's form, on the generated projects of a few models for both boards (firmware/, which
holds the copied engine library too):

* no PIPELINE in an imperfect loop nest (a statement beside the pipelined loop in its parent
  loop stops flattening: every outer iteration pays the pipeline's fill and drain);
* no BIND_OP naming a function parameter (the pragma binds the operation assigned to a local
  variable; on a pointer parameter the tool ignores it);
* every DATAFLOW region in canonical form: stream declarations, pragmas and process calls only,
  each argument a name or a literal, each local stream passed to exactly two processes (one
  producer, one consumer) and each stream parameter to one;
* no table reached through pointer arithmetic (a ROM row is an array index);
* every weight ROM bound to a memory kind where it is defined.

The checker is a small brace-tree parser of this project's own C++ style, not a C++ front end;
the tests at the top feed it bad snippets to show each rule fires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hls_graphs import GraphMaker, golden, mlp_binary

from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.pipeline import compile_model
from nbq.plan import plan_graph

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_po2_cnn.onnx"
BOARDS = ("zcu102", "u280")

# ------------------------------------------------------------------ a brace tree of C++ text


@dataclass
class Stmt:
    text: str
    parent: Block | None = None

    @property
    def pragma(self) -> str | None:
        m = re.fullmatch(r"__pragma__\((.*)\)", self.text)
        return m.group(1).strip() if m else None


@dataclass
class Block:
    header: str
    children: list = field(default_factory=list)
    parent: Block | None = None

    @property
    def kind(self) -> str:
        h = self.header.strip()
        if re.match(r"(for|while|do)\b", h):
            return "loop"
        if re.match(r"(if|else|switch)\b", h):
            return "cond"
        if re.search(r"\b(struct|class|namespace|enum|union)\b", h) and not h.endswith(")"):
            return "scope"
        if re.search(r"\)\s*(const\s*)?$", h):
            return "function"
        return "other"

    def pragmas(self) -> list[str]:
        return [c.pragma for c in self.children if isinstance(c, Stmt) and c.pragma]

    def walk(self):
        for c in self.children:
            yield c
            if isinstance(c, Block):
                yield from c.walk()

    def enclosing(self, kind: str) -> Block | None:
        p = self.parent
        while p is not None and p.kind != kind:
            p = p.parent
        return p


def _clean(text: str) -> str:
    """Comments and string literals out, `#pragma HLS x` lines as statements, other directives out."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\\n])*'", "' '", text)
    lines = []
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"#\s*pragma\s+HLS\s+(.*)", s, flags=re.I)
        if m:
            lines.append(f"__pragma__({m.group(1)});")
        elif not s.startswith("#"):
            lines.append(line)
    return "\n".join(lines)


def parse(text: str) -> Block:
    """The brace tree: a `{` opens a block unless the text before it holds a top-level `=` (an
    initializer, kept in its statement); `;` ends a statement outside parentheses."""
    root = Block("<file>")
    stack, buf, paren, i = [root], [], 0, 0
    src = _clean(text)
    while i < len(src):
        ch = src[i]
        if ch in "([":
            paren += 1
        elif ch in ")]":
            paren -= 1
        if ch == "{" and paren == 0:
            head = "".join(buf).strip()
            if "=" in re.sub(r"[=!<>]=|operator\s*\S+", "", head) and not re.match(r"(for|if|while)\b", head):
                depth, j = 0, i
                while True:  # an initializer: up to its matching brace
                    depth += {"{": 1, "}": -1}.get(src[j], 0)
                    j += 1
                    if depth == 0:
                        break
                buf.append(src[i:j])
                i = j
                continue
            block = Block(head, parent=stack[-1])
            stack[-1].children.append(block)
            stack.append(block)
            buf = []
        elif ch == "}" and paren == 0:
            rest = "".join(buf).strip()
            if rest:
                stack[-1].children.append(Stmt(rest, stack[-1]))
            buf = []
            stack.pop()
        elif ch == ";" and paren == 0:
            s = "".join(buf).strip()
            if s:
                stack[-1].children.append(Stmt(s, stack[-1]))
            buf = []
        else:
            buf.append(ch)
        i += 1
    return root


def _split_top(text: str) -> list[str]:
    """Split at commas outside (), [], <>."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def parameters(fn: Block) -> dict[str, str]:
    """name -> declaration of a function block's parameters."""
    h = fn.header.rstrip()
    h = re.sub(r"\bconst\s*$", "", h).rstrip()
    depth, start = 0, None
    for k in range(len(h) - 1, -1, -1):
        if h[k] == ")":
            depth += 1
        elif h[k] == "(":
            depth -= 1
            if depth == 0:
                start = k
                break
    params = {}
    for p in _split_top(h[start + 1 : -1]) if start is not None else []:
        p = p.split("=")[0].strip()
        m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*$", p)
        if m and p not in ("void", ""):
            params[m.group(1)] = p
    return params


# ------------------------------------------------------------------ the rules


def imperfect_pipelines(root: Block) -> list[str]:
    found = []
    for b in root.walk():
        if not (isinstance(b, Block) and b.kind == "loop"):
            continue
        if not any(re.match(r"pipeline\b(?!.*\boff\b)", p, re.I) for p in b.pragmas()):
            continue
        child, parent = b, b.parent
        while parent is not None and parent.kind == "cond":
            child, parent = parent, parent.parent
        if parent is None or parent.kind != "loop":
            continue
        others = [c for c in parent.children if c is not child and not (isinstance(c, Stmt) and c.pragma)]
        if others or child is not b:
            found.append(f"PIPELINE loop `{b.header}` in an imperfect nest under `{parent.header}`")
    return found


def bind_op_on_parameters(root: Block) -> list[str]:
    found = []
    for s in root.walk():
        if not (isinstance(s, Stmt) and s.pragma and re.match(r"bind_op\b", s.pragma, re.I)):
            continue
        m = re.search(r"variable\s*=\s*(\w+)", s.pragma)
        fn = s.parent if s.parent.kind == "function" else s.parent.enclosing("function")
        if m and fn is not None and m.group(1) in parameters(fn):
            found.append(f"BIND_OP on parameter `{parameters(fn)[m.group(1)]}` of `{fn.header}`")
    return found


_STREAM_DECL = re.compile(r"(static\s+)?hls::stream\s*<.*>\s+(\w+)\s*(\(.*\))?")
_CALL = re.compile(r"([\w:]+(\s*<.*>)?)\s*\((.*)\)")


def non_canonical_dataflow(root: Block) -> list[str]:
    found = []
    for b in root.walk():
        if not (isinstance(b, Block) and any(re.fullmatch(r"dataflow", p, re.I) for p in b.pragmas())):
            continue
        where = f"DATAFLOW region `{b.header}`"
        if b.kind != "function":
            found.append(f"{where}: not a function body")
        streams, texts = [], []
        for c in b.children:
            if isinstance(c, Block):
                found.append(f"{where}: `{c.header}` block inside the region")
                texts += [c.header, *(d.text for d in c.walk() if isinstance(d, Stmt))]
                continue
            if c.pragma:
                continue
            decl = _STREAM_DECL.fullmatch(c.text)
            if decl:
                streams.append(decl.group(2))
                continue
            texts.append(c.text)
            call = _CALL.fullmatch(c.text)
            if call is None or re.match(r"(if|for|while|do|else|switch|return)\b", c.text):
                found.append(f"{where}: `{c.text}` is neither a stream declaration nor a process call")
                continue
            for arg in _split_top(call.group(3)):
                if not re.fullmatch(r"\w+", arg):
                    found.append(f"{where}: argument `{arg}` of `{call.group(1)}` is an expression")

        def uses(name: str, texts: list[str] = texts) -> int:
            return sum(len(re.findall(rf"(?<![\w.]){name}\b", t)) for t in texts)

        for name in streams:
            if uses(name) != 2:
                found.append(f"{where}: stream {name} passed to {uses(name)} processes (want 2)")
        for name, decl in parameters(b).items() if b.kind == "function" else []:
            if "hls::stream" in decl and uses(name) != 1:
                found.append(f"{where}: port {name} passed to {uses(name)} processes (want 1)")
    return found


def table_pointer_arithmetic(root: Block) -> list[str]:
    """Array / pointer parameters, and static const tables, used with + / - / & instead of an index."""
    found = []
    for fn in root.walk():
        if not (isinstance(fn, Block) and fn.kind == "function"):
            continue
        tables = [n for n, d in parameters(fn).items() if "[" in d or "*" in d]
        tables += [m.group(1) for c in fn.children if isinstance(c, Stmt)
                   for m in [re.match(r"static\s+const\b.*?(\w+)\s*(\[[^\]]*\])+\s*=", c.text)] if m]  # fmt: skip
        body = " ; ".join(c.text if isinstance(c, Stmt) else c.header for c in fn.walk())
        for name in tables:
            after = re.search(rf"(?<![\w.])({name})\s*(\+(?![+=])|-(?![-=>]))", body)
            before = re.search(rf"([+\-&*]\s*)(?<![\w.]){name}\b(?!\s*\[)", body)
            element = re.search(rf"&\s*{name}\s*\[", body)
            hit = after or before or element
            if hit:
                found.append(f"`{name}` of `{fn.header}` used by pointer arithmetic: `...{hit.group(0)}...`")
    return found


def unbound_roms(root: Block) -> list[str]:
    """Every weight ROM (static const w_*) gets BIND_STORAGE ... impl=lutram|bram|uram in its function."""
    found = []
    for fn in root.walk():
        if not (isinstance(fn, Block) and fn.kind == "function"):
            continue
        for c in fn.children:
            m = isinstance(c, Stmt) and re.match(r"static\s+const\b.*?\b(w_\w+)\s*(\[[^\]]*\])+\s*=", c.text)
            if not m:
                continue
            name = m.group(1)
            if not any(re.fullmatch(rf"bind_storage\s+variable\s*=\s*{name}\s+type\s*=\s*rom_1p\s+impl\s*="
                                    rf"\s*(lutram|bram|uram)", p, re.I) for p in fn.pragmas()):  # fmt: skip
                found.append(f"ROM {name} has no BIND_STORAGE in `{fn.header}`")
    return found


RULES = (imperfect_pipelines, bind_op_on_parameters, non_canonical_dataflow, table_pointer_arithmetic, unbound_roms)


def check(text: str) -> list[str]:
    root = parse(text)
    return [problem for rule in RULES for problem in rule(root)]


# ------------------------------------------------------------------ the checker fires


BAD_NEST = """
void f(hls::stream<int>& in, hls::stream<int>& out) {
    for (int p = 0; p < 4; p++) {
        int acc = 0;  // a statement between the loops
        for (int k = 0; k < 8; k++) {
#pragma HLS PIPELINE II = 1
            acc += in.read();
        }
        out.write(acc);
    }
}
"""
GOOD_NEST = """
void f(hls::stream<int>& in, hls::stream<int>& out, int images) {
    int acc = 0, k = 0;
    const int total = images * 32;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        acc += in.read();
        if (k == 7) { out.write(acc); acc = 0; k = 0; } else { k++; }
    }
    for (int p = 0; p < 4; p++) {
        for (int q = 0; q < 4; q++) {
#pragma HLS PIPELINE II = 1
            out.write(p + q);
        }
    }
}
"""
BAD_BIND_OP = """
template <class T, int N>
struct adder_tree {
    static T sum(T* v) {
#pragma HLS BIND_OP variable = v op = add impl = fabric
        for (int i = 1; i < N; i++) v[0] += v[i];
        return v[0];
    }
};
"""
GOOD_BIND_OP = """
int add(int a, int b) {
    const int node = a + b;
#pragma HLS BIND_OP variable = node op = add impl = fabric
    return node;
}
"""
BAD_DATAFLOW = """
static void one_image(const int* in, int* out);
extern "C" void krnl(const int* in, int* out, int n, hls::stream<int>& s) {
#pragma HLS DATAFLOW
    hls::stream<int> a("a");
    hls::stream<int> b("b");
    for (int i = 0; i < n; i++) {
        one_image(in + i * 8, out + i * 8);
    }
    if (n > 0) produce(a);
    produce(a);
    consume(a, b, in + 8);
    int k = 3;
}
"""
GOOD_DATAFLOW = """
void core(hls::stream<int>& in, hls::stream<int>& out, int images) {
#pragma HLS DATAFLOW
    hls::stream<int> a("a");
#pragma HLS STREAM variable = a depth = 2
    first<3>(in, a, images);
    nbq::second<cfg_x, 4>(a, out, images);
}
"""
BAD_ROM = """
template <class CFG>
void mvau(hls::stream<int>& in, const uint64_t weights[CFG::N_WORDS], int f) {
    unpack(weights + (f * 4) * CFG::WORDS, in);
}
void use(const uint64_t* rom) { read(&rom[3]); }
"""
GOOD_ROM = """
template <class CFG>
void mvau(hls::stream<int>& in, const uint64_t weights[CFG::DEPTH][CFG::CHUNKS], int f) {
    unpack(weights[f], in);
    const int x = in.read() - 1 + f;
    (void)x;
}
template <class S0>
static void run_w_a(S0& s0, int images) {
    static const nbq::rom_chunk<12>::type w_a[2][1] = {
    0x1ULL, 0x2ULL,
    };
#pragma HLS ARRAY_RESHAPE variable=w_a complete dim=2
#pragma HLS BIND_STORAGE variable=w_a type=rom_1p impl=lutram
    f<cfg>(s0, w_a, images);
}
"""
UNBOUND_ROM = """
template <class S0>
static void run_w_a(S0& s0, int images) {
    static const uint64_t w_a[2][1] = {1, 2};
    f<cfg>(s0, w_a, images);
}
"""


@pytest.mark.parametrize(
    ("rule", "bad", "good", "expected"),
    [
        (imperfect_pipelines, BAD_NEST, GOOD_NEST, 1),
        (bind_op_on_parameters, BAD_BIND_OP, GOOD_BIND_OP, 1),
        (non_canonical_dataflow, BAD_DATAFLOW, GOOD_DATAFLOW, 7),
        (table_pointer_arithmetic, BAD_ROM, GOOD_ROM, 2),
        (unbound_roms, UNBOUND_ROM, GOOD_ROM, 1),
    ],
    ids=["imperfect-nest", "bind-op-pointer", "dataflow", "rom-pointer", "rom-storage"],
)
def test_each_rule_fires_on_a_bad_snippet(rule, bad, good, expected):
    problems = rule(parse(bad))
    assert len(problems) == expected, problems
    assert rule(parse(good)) == []


def test_dataflow_rule_names_what_is_wrong():
    problems = "\n".join(non_canonical_dataflow(parse(BAD_DATAFLOW)))
    for what in ("`for", "`if", "`in + 8`", "`int k = 3`", "stream a passed to 3", "stream b passed to 1",
                 "port s passed to 0"):  # fmt: skip
        assert what in problems, problems


# ------------------------------------------------------------------ the generated projects


def _complex_graph():
    """A binary complex convolution ([[A, -B], [B, A]] blocks, sign activations) and a dense head."""
    m = GraphMaker(11, (4, 6, 6), -1, 1, "complex_forms")
    m.complex_conv(3, 3, pads=(1, 1, 1, 1))
    m.threshold(levels=1, out_lo=-1, step=2)
    m.maxpool(2, 2)
    m.flatten()
    m.dense(4, bits=1)
    return m.graph()


def _write(graph, board: str, out: Path) -> Path:
    x, y = golden(graph, n_random=1)
    write_hls_project(plan_graph(graph, load_board(board)), out, x, y)
    return out


def _firmware(project: Path) -> dict[str, str]:
    files = sorted([*project.glob("firmware/**/*.h"), *project.glob("firmware/**/*.cpp")])
    assert any(f.name == "mvau.h" for f in files), "the engine library is copied into the project"
    return {str(f.relative_to(project)): f.read_text() for f in files}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hls_forms")
    out = {}
    for board in BOARDS:
        compile_model(EXAMPLE, load_board(board), root / f"digits-{board}")
        out[f"digits-{board}"] = root / f"digits-{board}"
        out[f"binary-{board}"] = _write(mlp_binary(), board, root / f"binary-{board}")
        out[f"complex-{board}"] = _write(_complex_graph(), board, root / f"complex-{board}")
    return out


@pytest.mark.parametrize("name", [f"{m}-{b}" for m in ("digits", "binary", "complex") for b in BOARDS])
def test_generated_cpp_has_the_forms_vitis_schedules(projects, name):
    problems = [f"{path}: {p}" for path, text in _firmware(projects[name]).items() for p in check(text)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("board", BOARDS)
def test_the_board_wrapper_is_one_dataflow_region(projects, board):
    top = (projects[f"digits-{board}"] / "firmware" / "nbq_top.cpp").read_text()
    root = parse(top)
    regions = [b for b in root.walk() if isinstance(b, Block) and "dataflow" in [p.lower() for p in b.pragmas()]]
    assert len(regions) == 2  # the core and the board wrapper
    wrapper = next(b for b in regions if "nbq_top_" in b.header)
    assert not [b for b in wrapper.walk() if isinstance(b, Block)], "no loop around the region"
    calls = [c.text for c in wrapper.children if isinstance(c, Stmt) and not c.pragma and "hls::stream" not in c.text]
    if board == "u280":  # the batch streams through: reader, unpack, core, pack, writer, all given n_images
        assert len(calls) == 5 and all(c.endswith("n_images)") for c in calls), calls
    else:
        assert len(calls) == 3, calls


def test_every_rom_and_line_buffer_names_its_memory(projects):
    text = "\n".join(_firmware(projects["digits-u280"]).values())
    roms = re.findall(r"static const \S+ (w_\w+)\[", text)
    assert roms and all(re.search(rf"BIND_STORAGE variable={r} type=rom_1p impl=(lutram|bram|uram)", text)
                        for r in roms)  # fmt: skip
    window = (EXAMPLE.parent.parent / "hw" / "include" / "nbq" / "window.h").read_text()
    for impl in ("lutram", "bram", "uram"):
        assert f"BIND_STORAGE variable = mem type = ram_s2p impl = {impl}" in window
