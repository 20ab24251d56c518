"""`nbq compile` end to end without g++: README file list, both boards, byte-identical output."""

import fnmatch
import re
from pathlib import Path

import pytest
from netgen import random_cnn

from nbq.board_catalog import load_board
from nbq.pipeline import compile_model

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_project_files(board: str | None = None, rtl: bool = False) -> list[str]:
    """Every file named in the README's 'Generated project' table (for `board`: without the rows
    marked "(<other board> only)"; the rows marked "--rtl" only when `rtl`)."""
    section = README.read_text().split("### Generated project", 1)[1].split("\n## ", 1)[0]
    names = []
    for row in section.splitlines():
        if row.startswith("| `"):
            cell = row.split("|")[1]
            only = re.search(r"\((\w+) only\)", cell)
            if "--rtl" in cell and not rtl:
                continue
            if board is None or only is None or only.group(1).lower() == board:
                names += re.findall(r"`([^`]+)`", cell)
    return names


def assert_lists_match(listed: list[str], tree: dict[str, bytes], board: str) -> None:
    for name in listed:
        if "*" in name:
            assert any(fnmatch.fnmatchcase(f, name) for f in tree), name
        else:
            assert name in tree, f"README lists {name}, the {board} project lacks it"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("board", ["zcu102", "u280"])
def test_project_has_every_readme_file_and_is_deterministic(board, tmp_path, save_model):
    model = save_model(random_cnn(7, n_bits=3))
    first = compile_model(model, load_board(board), tmp_path / "a")
    compile_model(model, load_board(board), tmp_path / "b")
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert tree_a == tree_b  # byte-identical
    listed = readme_project_files(board)
    assert len(listed) >= 14
    other = set(readme_project_files()) - set(listed)  # the other board's files must not appear
    assert other and not other & set(tree_a), other & set(tree_a)
    assert_lists_match(listed, tree_a, board)
    assert not any(f.startswith("rtl/") for f in tree_a)  # only with --rtl
    assert sorted(tree_a) == sorted(str(f) for f in first.files)
    manifest = (tmp_path / "a" / "nbq_project.json").read_text()
    assert load_board(board).part in manifest


def test_rtl_rows_of_the_readme_with_rtl(tmp_path, save_model):
    model = save_model(random_cnn(7, n_bits=3))
    result = compile_model(model, load_board("zcu102"), tmp_path / "a", rtl=True)
    tree = _tree(tmp_path / "a")
    rtl_rows = set(readme_project_files("zcu102", rtl=True)) - set(readme_project_files("zcu102"))
    assert {"rtl/nbq_top.sv", "rtl/nbq_rtl.json"} <= rtl_rows
    assert_lists_match(sorted(rtl_rows), tree, "zcu102")
    assert sorted(tree) == sorted(str(f) for f in result.files)
    assert any(f.startswith("rtl/") and f.endswith(".mem") for f in tree)


def test_compile_over_an_existing_non_project_folder_is_refused(tmp_path, save_model):
    from nbq.errors import NbqError

    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    with pytest.raises(NbqError, match="not an nbq project"):
        compile_model(save_model(random_cnn(7, n_bits=3)), load_board("zcu102"), target)
    assert (target / "notes.txt").read_text() == "precious"
