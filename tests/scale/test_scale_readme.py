"""The examples of docs/sharding.md run as written (the engine recipe runs in the llama test)."""

from docs_blocks import python_blocks


def test_the_sharding_example_runs_and_prints_its_share(monkeypatch, tmp_path, capsys):
    blocks = python_blocks("sharding.md")
    assert len(blocks) == 1  # the engine recipe is marked skip: it needs a running server
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "docs/sharding.md", "exec"), {"__name__": "__readme__"})  # noqa: S102
    lines = capsys.readouterr().out.splitlines()
    positions = [int(line.split()[0]) for line in lines]
    assert 10 < len(lines) < 40 and positions == sorted(positions)  # about a quarter of 100
    assert all(line.split(" ", 1)[1] == f"echo: What is {i}+{i}?"
               for i, line in zip(positions, lines))
