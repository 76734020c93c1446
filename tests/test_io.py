import pandas as pd
import pytest

from gazelab._io import atomic_path, write_table
from gazelab.errors import ParameterError


def test_write_table_formats_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for suffix in (".csv", ".tsv", ".parquet"):
        out = write_table(df, tmp_path / f"t{suffix}")
        back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")
        assert back["a"].tolist() == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet", "t.tsv"]


def test_bad_suffix_writes_nothing(tmp_path):
    with pytest.raises(ParameterError, match=r"\.parquet"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_check_output_rules(tmp_path):
    from gazelab._io import check_output

    src = tmp_path / "in.asc"
    src.write_text("x")
    out = tmp_path / "out.csv"
    assert check_output(out, inputs=(src,)) == out
    with pytest.raises(ParameterError, match="input"):
        check_output(src, overwrite=True, inputs=(src,))
    (tmp_path / "alias.asc").hardlink_to(src)
    with pytest.raises(ParameterError, match="input"):  # another name of the same file
        check_output(tmp_path / "alias.asc", overwrite=True, inputs=(src,))
    out.write_text("old")
    with pytest.raises(ParameterError, match="--overwrite"):
        check_output(out)
    assert check_output(out, overwrite=True) == out
    out.chmod(0o444)
    with pytest.raises(ParameterError, match="read-only"):
        check_output(out, overwrite=True)


@pytest.mark.parametrize("name", ["../a", "/a", "a/../../b", "C:x", "\\\\srv\\a", "", ".", "a\x01", "x" * 256])
def test_safe_name_refuses(name):
    from gazelab._io import safe_name

    with pytest.raises(ParameterError):
        safe_name(name)


def test_safe_name_keeps_nested_relative_names():
    from gazelab._io import safe_name

    assert safe_name("a\\b/./c.png") == "a/b/c.png"
    assert safe_name("Action/001") == "Action/001"


def test_inside_refuses_links_out(tmp_path):
    from gazelab._io import inside

    root = tmp_path / "stimuli"
    root.mkdir()
    (tmp_path / "secret.png").write_text("s")
    (root / "ok.png").write_text("o")
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    assert inside(root, "ok.png") == root / "ok.png"
    with pytest.raises(ParameterError, match="outside"):
        inside(root, "link.png")


def test_atomic_folder_replaces_only_when_complete(tmp_path):
    from gazelab._io import atomic_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("crash")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    with atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
