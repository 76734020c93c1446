"""Hostile recordings and config files: impossible data, bombs, wrong encodings, odd file types.

Each reaches the user as one line naming the file (and line) through ``gazelab info``; nothing
is written anywhere.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import HEADER, REPO
from tests.hostile.conftest import asc_text, assert_one_line, gazelab, good_samples, snapshot

# ---- impossible data in an ASC file: refused with the line that holds it -----------------------

GOOD = good_samples(20)  # lines 1000, 1002, ... ; the block's first sample is on line 16 of the file
FIRST_SAMPLE_LINE = asc_text("").count("\n")  # END is the last line of the empty text


def _with_sample(line: str, at: int = 10) -> tuple[str, int]:
    """Replace sample ``at`` of GOOD with ``line``; return the text and its 1-based line number."""
    rows = GOOD.splitlines(keepends=True)
    rows[at] = line + "\n"
    return asc_text("".join(rows)), FIRST_SAMPLE_LINE + at


IMPOSSIBLE_SAMPLES = {
    "time goes backwards": ("1000\t500.0\t380.0\t1000.0\t...", "goes back"),
    "time repeats at 500 Hz": ("1018\t500.0\t380.0\t1000.0\t...", "repeats"),
    "x is inf": ("1020\tinf\t380.0\t1000.0\t...", "x_left_px"),
    "y is -inf": ("1020\t500.0\t-inf\t1000.0\t...", "y_left_px"),
    "x is 1e308": ("1020\t1e308\t380.0\t1000.0\t...", "impossible"),
    "pupil is 1e12": ("1020\t500.0\t380.0\t1e12\t...", "pupil_left"),
    "time is inf": ("inf\t500.0\t380.0\t1000.0\t...", "line"),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE_SAMPLES))
def test_impossible_sample_is_refused_with_its_line(case, tmp_path):
    line, words = IMPOSSIBLE_SAMPLES[case]
    text, lineno = _with_sample(line)
    rec = tmp_path / "rec.asc"
    rec.write_text(text)
    before = snapshot(tmp_path)
    msg = assert_one_line(gazelab("info", rec), str(rec), words)
    if case != "time is inf":  # 'inf' starts with a letter: an unknown line type, on its own line too
        assert f"line {lineno}" in msg
    else:
        assert f"line {lineno}" in msg
    assert snapshot(tmp_path) == before


def test_integer_timestamps_repeat_at_most_twice_at_2khz(tmp_path):
    ok = "".join(f"{1000 + i // 2}\t500.0\t380.0\t1000.0\t...\n" for i in range(20))
    rec = tmp_path / "ok.asc"
    rec.write_text(asc_text(ok, rate=2000.0))
    from gazelab.preprocessing import read_asc

    assert read_asc(rec).metadata["timestamps_rebuilt"]
    bad = ok.replace("1005\t500.0", "1004\t500.0", 1)  # 1004 three times
    rec.write_text(asc_text(bad, rate=2000.0))
    assert_one_line(gazelab("info", rec), "repeats", "at most 2")


DISPLAY = {
    "huge": ("0 0 1e12 1e12", "screen"),
    "inf": ("0 0 inf 767", "screen"),
    "nan": ("0 0 1023 nan", "screen"),
    "negative": ("0 0 -1023 767", "screen"),
    "zero": ("100 100 100 100", "screen"),
}


@pytest.mark.parametrize("case", sorted(DISPLAY))
def test_display_coords_that_make_no_sense(case, tmp_path):
    coords, words = DISPLAY[case]
    header = HEADER.replace("DISPLAY_COORDS 0 0 1023 767", f"DISPLAY_COORDS {coords}")
    rec = tmp_path / "rec.asc"
    rec.write_text(asc_text(GOOD, header=header))
    line = header.splitlines().index(next(x for x in header.splitlines() if "DISPLAY_COORDS" in x)) + 1
    assert_one_line(gazelab("info", rec), "DISPLAY_COORDS", words, f"line {line}")


EVENTS = {
    "EFIX with an infinite position": "EFIX L   1004\t1010\t8\tinf\t380.0\t1000\n",
    "EFIX with a 1e308 pupil": "EFIX L   1004\t1010\t8\t500.0\t380.0\t1e308\n",
    "ESACC with a NaN onset": "ESACC L  nan\t1010\t8\t500.0\t380.0\t510.0\t390.0\t0.5\t100\n",
    "MSG at time inf": "MSG\tinf TRIALID 1\n",
}


@pytest.mark.parametrize("case", sorted(EVENTS))
def test_impossible_event_or_message_time(case, tmp_path):
    rows = GOOD.splitlines(keepends=True)
    rows.insert(5, EVENTS[case])
    rec = tmp_path / "rec.asc"
    rec.write_text(asc_text("".join(rows)))
    assert_one_line(gazelab("info", rec), str(rec), f"line {FIRST_SAMPLE_LINE + 5}")


# ---- bombs and files that are not text ---------------------------------------------------------


def test_gzip_of_newlines_stops_at_the_line_limit(tmp_path):
    # 16 MiB of newlines per gzip member, 64 members: 1 GiB inflated from a ~1 MB file
    member = gzip.compress(b"\n" * (1 << 24), compresslevel=9)
    bomb = tmp_path / "bomb.asc.gz"
    bomb.write_bytes(member * 64)
    t0 = time.perf_counter()
    assert_one_line(gazelab("info", bomb), "MAX_LINES", "lines")
    assert time.perf_counter() - t0 < 20


@pytest.mark.parametrize("what", ["gzip bomb", "2 GB sparse file", "2 GB gzip of NUL"])
def test_reader_memory_is_bounded(what, tmp_path):
    """Peak memory of a fresh process reading the input stays far below the input's size."""
    path = tmp_path / "big.asc"
    if what == "gzip bomb":
        path = path.with_suffix(".asc.gz")
        path.write_bytes(gzip.compress(b"\n" * (1 << 24), compresslevel=9) * 64)  # 1 GiB of newlines
    elif what == "2 GB sparse file":
        with path.open("wb") as fh:
            fh.truncate(2 << 30)  # 2 GiB of NUL bytes, no disk used
    else:
        path = path.with_suffix(".asc.gz")
        path.write_bytes(gzip.compress(b"\0" * (1 << 24), compresslevel=9) * 128)  # 2 GiB of NUL
    code = textwrap.dedent(
        f"""
        from gazelab.errors import ParseError
        from gazelab.preprocessing.readers.asc import read_asc

        def hwm_kb():  # the process's peak resident memory (ru_maxrss would include the parent's)
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        base = hwm_kb()
        try:
            read_asc({str(path)!r}, progress=False)
        except ParseError as exc:
            print("ERR", exc)
        print("PEAK_KB", hwm_kb(), base)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ERR" in out.stdout, out.stdout
    peak_kb, base_kb = (int(v) for v in out.stdout.split("PEAK_KB")[1].split())
    print(f"{what}: peak RSS {peak_kb / 1024:.0f} MiB (after imports {base_kb / 1024:.0f} MiB)")
    # bounded by MAX_LINES (16 M lines, 16 MiB of newlines) and the 4 MiB inflate chunk, not the input
    assert peak_kb - base_kb < 100 * 1024  # the whole input would be >= 1 GiB


def test_plain_file_over_the_size_limit_is_refused_unread(tmp_path):
    big = tmp_path / "big.asc"
    with big.open("wb") as fh:
        fh.truncate((1 << 30) + 1)
    assert_one_line(gazelab("info", big), "MAX_BYTES")


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("nul.asc", b"\0" * 1000, "NUL"),
        ("utf16.asc", ("\ufeff" + HEADER).encode("utf-16-le"), "UTF-16"),
        ("utf16be.asc", ("\ufeff" + HEADER).encode("utf-16-be"), "UTF-16"),
        ("empty.asc", b"", "empty"),
        ("blank.asc", b"\n \n\t\n" * 100, "empty"),
        ("binary.asc.gz", b"\x1f\x8b" + os.urandom(200), "gzip"),
        ("truncated.asc.gz", gzip.compress(HEADER.encode() * 50)[:-30], "gzip"),
    ],
)
def test_files_that_are_not_asc_text(name, data, words, tmp_path):
    path = tmp_path / name
    path.write_bytes(data)
    assert_one_line(gazelab("info", path), str(path), words)


@pytest.mark.parametrize("name", ["samples.csv", "samples.tsv"])
def test_utf16_table_gets_an_encoding_hint(tmp_path, name):
    path = tmp_path / name
    path.write_bytes("time_ms\tx_px\ty_px\n1\t2\t3\n".encode("utf-16"))
    assert_one_line(gazelab("info", path), name, "UTF-16", "UTF-8")


def test_fifo_is_not_reported_as_missing(tmp_path):
    fifo = tmp_path / "rec.asc"
    os.mkfifo(fifo)
    assert_one_line(gazelab("info", fifo), "not a regular file")


def test_folder_and_missing_file(tmp_path):
    (tmp_path / "d.asc").mkdir()
    assert_one_line(gazelab("info", tmp_path / "d.asc"), "d.asc")
    assert_one_line(gazelab("info", tmp_path / "nope.asc"), "no such file")


def test_garbage_line_in_a_session_folder_names_its_line(tmp_path):
    from gazelab.acquisition.session import SessionWriter

    folder = tmp_path / "sub-P01" / "ses-1"
    with SessionWriter(folder, {"sampling_rate_hz": 500.0, "screen": {"width_px": 1024, "height_px": 768}}) as w:
        w.add_samples([(1000.0 + 2 * i, 1000.0 + 2 * i, 500.0, 380.0, 1000.0, 1.0) for i in range(20)])
    with (folder / "samples.tsv").open("a") as fh:
        fh.write("1040\t1040\tgarbage\t380\t1000\t1\n")
    msg = assert_one_line(gazelab("info", folder), "samples.tsv")
    assert "line 22" in msg


# ---- YAML: size, encoding, alias bombs -----------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("case", "data", "words"),
    [
        ("alias bomb", ALIAS_BOMB.encode(), "alias bomb"),
        ("self-referring alias", b"a: &a [1, *a]\n", "through its aliases"),
        ("latin-1", "name: caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("over 1 MiB", b"# " + b"x" * (1 << 20) + b"\n", "larger than"),
        ("not YAML", b"name: [unclosed\n", "not valid YAML"),
    ],
)
def test_hostile_experiment_yaml(case, data, words, tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_bytes(data)
    before = snapshot(tmp_path)
    t0 = time.perf_counter()
    msg = assert_one_line(gazelab("run", cfg, "--participant", "P01", "--out", tmp_path / "out"), str(cfg), words)
    assert time.perf_counter() - t0 < 5, msg
    assert snapshot(tmp_path) == before
