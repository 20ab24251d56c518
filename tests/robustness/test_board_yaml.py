"""Hostile board YAML files (`nbq compile ... --board evil.yaml`): every one is refused with one line naming
the field, before anything is written, and no injected command runs.  Legal but unusual boards compile and
their strings reach the generated files only where a human needs them, escaped for that file's language."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from harness import EXAMPLE, REPO, assert_bad_input, files_containing

PAYLOAD_FILE = "PWNED"


def board(name: str = "zcu102") -> dict:
    return yaml.safe_load((REPO / "boards" / f"{name}.yaml").read_text())


def dumped(data: object) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


def with_field(path: str, value: object, base: str = "zcu102") -> bytes:
    data = board(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return dumped(data)


def without(path: str, base: str = "zcu102") -> bytes:
    data = board(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    del node[last]
    return dumped(data)


def renamed(old: str, new: str) -> bytes:
    data = board()
    data = {new if k == old else k: v for k, v in data.items()}
    return dumped(data)


def raw(text: str) -> Callable[[], bytes]:
    return lambda: (REPO / "boards" / "zcu102.yaml").read_bytes() + text.encode()


def alias_bomb() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines).encode() + b"\n"


# (id, file contents, words the one-line error must name)
CASES: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = [
    ("tcl_part_brace_exec", lambda: with_field("part", "xczu9eg}; exec touch PWNED; puts {"), ("part",)),
    ("tcl_part_bracket_exec", lambda: with_field("part", "[exec touch PWNED]"), ("part",)),
    ("tcl_platform_brace_exec", lambda: with_field("platform", "p}; exec touch PWNED; #"), ("platform",)),
    ("tcl_name_brace_exec", lambda: with_field("name", "z}; exec touch PWNED; puts {"), ("name",)),
    ("tcl_vivado_board_part_exec", lambda: with_field("vivado_board_part", "xilinx.com:zcu102:part0:*}; exec touch "
                                                                           "PWNED; puts {"), ("vivado_board_part",)),
    ("make_name_newline_rule", lambda: with_field("name", "zcu102\nall:\n\ttouch PWNED"), ("name",)),
    ("make_platform_shell", lambda: with_field("platform", "$(shell touch PWNED)"), ("platform",)),
    ("make_platform_backquote", lambda: with_field("platform", "`touch PWNED`"), ("platform",)),
    ("make_platform_semicolon", lambda: with_field("platform", "x;touch PWNED"), ("platform",)),
    ("make_platform_option", lambda: with_field("platform", "--help"), ("platform",)),
    ("cfg_default_banks_newline", lambda: with_field("memory.default_banks", ["HBM[0]\nslr=x:SLR2", "HBM[1]"], "u280"),
     ("memory.default_banks",)),
    ("cfg_default_banks_three", lambda: with_field("memory.default_banks", ["HBM[0]", "HBM[1]", "HBM[2]"], "u280"),
     ("memory.default_banks",)),
    ("cfg_slr_newline", lambda: with_field("memory.slr", "SLR0\nnk=evil:1:evil", "u280"), ("memory.slr",)),
    ("quotes_backslash_part", lambda: with_field("part", 'xczu9eg"\\'), ("part",)),
    ("cpp_quote_name", lambda: with_field("name", 'z"; system("touch PWNED"); //'), ("name",)),
    ("name_uppercase_long", lambda: with_field("name", "Z" * 40), ("name",)),
    ("clock_zero", lambda: with_field("clock_mhz", 0), ("clock_mhz",)),
    ("clock_negative", lambda: with_field("clock_mhz", -5), ("clock_mhz",)),
    ("clock_nan", raw("clock_mhz: .nan\n"), ("duplicate", "clock_mhz")),
    ("clock_nan_only", lambda: with_field("clock_mhz", float("nan")), ("clock_mhz",)),
    ("clock_inf", lambda: with_field("clock_mhz", float("inf")), ("clock_mhz",)),
    ("clock_string", lambda: with_field("clock_mhz", "fast"), ("clock_mhz", "fast")),
    ("clock_bool", lambda: with_field("clock_mhz", True), ("clock_mhz",)),
    ("clock_huge", lambda: with_field("clock_mhz", 1e9), ("clock_mhz",)),
    ("hp_port_bits_string", lambda: with_field("memory.hp_port_bits", "128"), ("memory.hp_port_bits",)),
    ("hp_port_bits_odd", lambda: with_field("memory.hp_port_bits", 100), ("memory.hp_port_bits",)),
    ("bus_bits_not_power_of_two", lambda: with_field("memory.bus_bits", 100, "u280"), ("memory.bus_bits",)),
    ("resources_negative", lambda: with_field("resources.lut", -1), ("resources.lut",)),
    ("resources_float", lambda: with_field("resources.dsp", 2.5), ("resources.dsp",)),
    ("resources_huge", lambda: with_field("resources.bram36", 10**30), ("resources.bram36",)),
    ("resources_bool", lambda: with_field("resources.ff", True), ("resources.ff",)),
    ("resources_not_mapping", lambda: with_field("resources", [1, 2]), ("resources",)),
    ("shell_exceeds_resources", lambda: with_field("shell.lut", 10**7), ("shell.lut",)),
    ("shell_negative", lambda: with_field("shell.ff", -3), ("shell.ff",)),
    ("missing_part", lambda: without("part"), ("part", "missing")),
    ("missing_resource", lambda: without("resources.dsp"), ("resources", "dsp")),
    ("unknown_key_typo", lambda: renamed("clock_mhz", "clok_mhz"), ("clok_mhz", "clock_mhz")),
    ("unknown_nested_key", lambda: with_field("memory.hp_bits", 128), ("memory.hp_bits", "hp_port_bits")),
    ("unknown_flow", lambda: with_field("flow", "quartus"), ("flow",)),
    ("budget_word", lambda: with_field("budget.lut", "lots"), ("budget.lut",)),
    ("budget_over_100_percent", lambda: with_field("budget.dsp", "150%"), ("budget.dsp",)),
    ("budget_negative", lambda: with_field("budget.ff", -1), ("budget.ff",)),
    ("budget_unknown_resource", lambda: with_field("budget.gpu", "50%"), ("budget.gpu",)),
    ("not_a_mapping", lambda: b"- name: zcu102\n- part: xczu9eg-ffvb1156-2-e\n", ("mapping",)),
    ("scalar_file", lambda: b"just some text\n", ("mapping",)),
    ("empty_file", lambda: b"", ("mapping",)),
    ("non_string_key", raw("1: one\n"), ("key",)),
    ("huge_file", lambda: b"# " + b"x" * (2 << 20) + b"\n", ("bytes",)),
    ("alias_bomb", alias_bomb, ("alias",)),
    ("deep_nesting", lambda: b"[" * 100_000, ("YAML",)),
    ("yaml_syntax_error", lambda: b"name: [zcu102\npart: x\n", ("YAML", "line")),
    ("yaml_python_tag", raw("extra: !!python/object/apply:os.system ['touch PWNED']\n"), ("YAML",)),
    ("control_chars_description", lambda: with_field("description", "red \x1b[31m board\x07"), ("description",)),
    ("bidi_override_description", lambda: with_field("description", "safe \u202e evil"), ("description",)),
    ("description_too_long", lambda: with_field("description", "x" * 5000), ("description",)),
    ("interfaces_not_text", lambda: with_field("memory.interfaces", [{"a": 1}]), ("memory.interfaces",)),
    ("non_utf8_bytes", lambda: (REPO / "boards" / "zcu102.yaml").read_bytes() + b"description: \xff\xfe\n",
     ("UTF-8",)),
]


@pytest.mark.parametrize(("contents", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_board_is_refused(sandbox, contents, needles):
    (sandbox.work / "evil.yaml").write_bytes(contents())
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--board", "evil.yaml")
    assert_bad_input(out, "evil.yaml", *needles)
    assert sandbox.changed() == [], out.describe()
    assert not list(sandbox.root.rglob(PAYLOAD_FILE))


def test_board_file_is_a_folder(sandbox):
    (sandbox.work / "dir.yaml").mkdir()
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--board", "dir.yaml")
    assert_bad_input(out, "dir.yaml")
    assert sandbox.changed() == []


def test_estimate_refuses_a_hostile_board_too(sandbox):
    (sandbox.work / "evil.yaml").write_bytes(with_field("clock_mhz", "fast"))
    sandbox.snapshot()
    out = sandbox.nbq("estimate", str(EXAMPLE), "--board", "evil.yaml")
    assert_bad_input(out, "evil.yaml", "clock_mhz")
    assert sandbox.changed() == []


# ------------------------------------------------------------------ legal but unusual boards compile

ODD_DESCRIPTION = 'costs $5 {really} "quoted" <b>bold</b> & #hash; `tick` \\ ± 漢字'


def _generated_text(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): p.read_text(errors="replace") for p in project.rglob("*")
            if p.is_file() and p.suffix not in (".bin", ".npy")}


def test_unusual_vivado_board_compiles_with_strings_escaped(sandbox):
    data = board()
    data.update(name="my-zu9_b2", description=ODD_DESCRIPTION, clock_mhz=187.5,
                platform="/opt/xilinx/platforms/zcu102+x/zcu102.xpfm", vivado_board_part="xilinx.com:zcu102:part0:3.4")
    (sandbox.work / "odd.yaml").write_bytes(dumped(data))
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--board", "odd.yaml")
    assert out.code == 0, out.describe()
    assert sandbox.changed(allowed=("work/proj",)) == []
    project = sandbox.work / "proj"
    assert files_containing(project, ODD_DESCRIPTION) == []  # free text stays out of generated files
    for piece in ('"quoted"', "<b>bold", "$5", "{really}", "`tick`"):
        assert files_containing(project, piece) == [], piece
    text = _generated_text(project)
    assert "set board_part_pattern {xilinx.com:zcu102:part0:3.4}" in text["vivado/block_design.tcl"]
    assert "create_clock -period 5.333" in text["run_hls.tcl"]
    assert json.loads(text["nbq_project.json"])["board"] == "my-zu9_b2"


def test_unusual_vitis_board_compiles_with_strings_escaped(sandbox):
    data = board("u280")
    platform = "/opt/xilinx/platforms/u280+v2/xilinx_u280.xpfm"
    data.update(name="u280-lab_1", description=ODD_DESCRIPTION, platform=platform)
    data["memory"].update(default_banks=["DDR[0]", "PLRAM[1]"], slr="SLR2")
    (sandbox.work / "odd.yaml").write_bytes(dumped(data))
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--board", "odd.yaml")
    assert out.code == 0, out.describe()
    assert sandbox.changed(allowed=("work/proj",)) == []
    project = sandbox.work / "proj"
    assert files_containing(project, ODD_DESCRIPTION) == []
    for piece in ('"quoted"', "<b>bold", "$5", "{really}", "`tick`"):
        assert files_containing(project, piece) == [], piece
    text = _generated_text(project)
    cfg = text["connectivity.cfg"].splitlines()
    assert "sp=nbq_top_krnl_1.m_axi_gmem0:DDR[0]" in cfg and "sp=nbq_top_krnl_1.m_axi_gmem1:PLRAM[1]" in cfg
    assert "slr=nbq_top_krnl_1:SLR2" in cfg
    assert f"PLATFORM ?= {platform}" in text["Makefile"].splitlines()
    assert 'KERNEL_NAME = "nbq_top_krnl";' in text["host/host.cpp"]
    manifest = json.loads(text["nbq_project.json"])
    assert manifest["platform"] == platform and manifest["vitis"]["banks"]["m_axi_gmem1"] == "PLRAM[1]"
