"""``kinesync screenshots``: its help, its options, and a clear refusal without Playwright or Chromium
(no browser, no broker: nothing here starts the pipeline)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kinesync.cli import build_parser, main
from kinesync.commands.screenshots import PAGES, SIZES


def parse(*argv: str):
    return build_parser().parse_args(["screenshots", *argv])


def test_help_says_what_it_does_and_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["screenshots", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("docs/img/console", "playwright", "apt-get install chromium", "embedded broker", "127.0.0.1",
                  "1280×800", "360×740", "make screenshots", *PAGES, *SIZES):
        assert words in text, f"--help does not mention {words!r}"


def test_listed_in_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "screenshots" in capsys.readouterr().out


def test_defaults() -> None:
    args = parse()
    assert args.out == Path("docs/img/console")
    assert (args.stations, args.warm, args.seed) == (4, 30.0, 7)
    assert args.sizes == ["laptop", "phone"]
    assert args.pages == list(PAGES)
    assert not args.full_page and not args.verbose and args.chromium is None


def test_options() -> None:
    args = parse("--out", "/tmp/shots", "--stations", "2", "--warm", "12.5", "--sizes", "phone, phone",
                 "--pages", "session,floor", "--full-page", "--seed", "3", "--chromium", "/opt/chromium")
    assert args.out == Path("/tmp/shots")
    assert (args.stations, args.warm, args.seed) == (2, 12.5, 3)
    assert args.sizes == ["phone"]  # repeated names once
    assert args.pages == ["session", "floor"]  # in the order asked
    assert args.full_page and args.chromium == "/opt/chromium"


@pytest.mark.parametrize(("argv", "says"), [
    (["--stations", "0"], "between 1 and 8"),
    (["--stations", "9"], "between 1 and 8"),
    (["--stations", "two"], "not a whole number"),
    (["--warm", "1"], "between 5 and 600"),
    (["--warm", "soon"], "not a number of seconds"),
    (["--sizes", "tablet"], "unknown: tablet"),
    (["--sizes", ","], "out of laptop, phone"),
    (["--pages", "floor,wall"], "unknown: wall"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_bad_options_are_refused_with_the_reason(argv: list[str], says: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_without_chromium_it_says_what_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shots"
    code = main(["screenshots", "--out", str(out), "--chromium", str(tmp_path / "no-such-chromium")])
    assert code == 2
    err = capsys.readouterr().err
    assert "kinesync screenshots needs" in err and "apt-get install chromium" in err
    assert not out.exists()


def test_without_playwright_it_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # import fails as if not installed
    monkeypatch.setenv("PATH", str(tmp_path))  # and no chromium either
    monkeypatch.delenv("KINESYNC_CHROMIUM", raising=False)
    code = main(["screenshots", "--out", str(tmp_path / "shots")])
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install 'kinesync[browser]'" in err and "apt-get install chromium" in err
