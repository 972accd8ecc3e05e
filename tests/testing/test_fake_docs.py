"""The example of docs/testing.md runs as written: its own fake server, no environment."""

from docs_blocks import python_blocks


def test_the_testing_page_example_runs_as_written(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (code,) = python_blocks("testing.md")
    exec(compile(code, "docs/testing.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert capsys.readouterr().out.splitlines() == ["Paris", "{'chat.completions': 4}"]
