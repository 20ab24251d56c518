"""The identifier sanitizer: any ONNX name -> a unique, valid, deterministic C identifier."""

from __future__ import annotations

import re

from nbq.backends.names import NameTable, c_identifier, comment_text

C_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def test_onnx_names_become_identifiers():
    assert c_identifier("/layer1/layer1.0/conv1/Conv_output_0") == "layer1_layer1_0_conv1_Conv_output_0"
    assert c_identifier("conv0/out:0") == "conv0_out_0"
    assert c_identifier("0") == "n0"
    assert c_identifier("__x__") == "x"
    assert c_identifier("") == "v"
    assert c_identifier("名前") == "v"
    assert c_identifier("int") == "int_"
    assert c_identifier("class") == "class_"


def test_identifiers_are_valid_and_never_reserved():
    for name in ["a b", "a__b", "_Upper", "9lives", "x" * 300, "a-b-c", "::", "main", "hls", "std"]:
        ident = c_identifier(name)
        assert C_IDENT.match(ident), (name, ident)
        assert "__" not in ident
        assert len(ident) <= 48
        assert ident not in {"main", "hls", "std"}


def test_long_names_stay_distinct():
    a = c_identifier("encoder/" + "block" * 20 + "/conv_a")
    b = c_identifier("decoder/" + "block" * 20 + "/conv_a")
    assert a != b
    assert a.endswith("_conv_a_" + a[-6:])  # the distinctive tail survives, plus a hash


def test_name_table_is_unique_case_insensitive_and_deterministic():
    names = ["conv/1", "conv.1", "Conv_1", "conv_1_2", "conv 1"]
    first, second = NameTable(), NameTable()
    idents = [first.add(n) for n in names]
    assert idents == [second.add(n) for n in names]
    assert len({i.lower() for i in idents}) == len(idents)
    assert idents[0] == "conv_1"
    assert first.add("conv/1") == "conv_1"  # same name, same identifier
    assert first["conv.1"] == idents[1]
    assert "conv 1" in first and "other" not in first


def test_comment_text_cannot_break_out_of_a_line_comment():
    text = comment_text("evil\\\nname\t*/ ±")
    assert "\\" not in text and "\n" not in text
    assert all(" " <= ch <= "~" for ch in text)
