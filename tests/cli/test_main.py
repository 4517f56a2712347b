"""The `shouhou` console script."""

from __future__ import annotations

from shouhou import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("serve", "worker", "tick", "demo", "import-orders", "migrate", "createsuperuser"):
        assert f"  {name} " in out


def test_no_arguments_prints_help(capsys):
    assert cli.main([]) == 0
    assert "usage: shouhou" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
