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
