"""One name for any model: `lmwrapper.get_lm`, `lmwrapper models`, and `run` around them
(extra columns passed through, local token counts, chat mode, the models dir)."""

import json
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.cli.main import build_parser, main
from lmwrapper.cli.run import dry_run, parse_line, prepare
from lmwrapper.providers.huggingface import smollm2
from lmwrapper.testing import FakeServer

REPO = Path(lmwrapper.__file__).parents[1]


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-models-test-key")
    with FakeServer(latency=0.0) as s:
        yield s


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_get_lm_takes_the_cli_names_and_says_did_you_mean(srv):
    lm = lmwrapper.get_lm("openai/gpt-4o-mini", base_url=srv.base_url)
    assert lm.model_name() == "gpt-4o-mini"
    assert lm.predict(lmwrapper.LmPrompt("What is 2+2?", max_tokens=3)).completion_text
    for wrong, meant in [("gpt-4o-mini", "openai/gpt-4o-mini"),
                         ("opnai/gpt-4o-mini", "openai/gpt-4o-mini")]:
        with pytest.raises(ValueError, match=f"Did you mean '{meant}'"):
            lmwrapper.get_lm(wrong)
    with pytest.raises(lmwrapper.core.errors.UnknownModelError, match="Did you mean gpt-4o-mini"):
        lmwrapper.get_lm("openai/gpt-4o-mnii")


def test_models_lists_limits_prices_and_downloads(capsys, monkeypatch, tmp_path):
    assert main(["models", "--json"]) == 0
    rows = {r["spec"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    mini = rows["openai/gpt-4o-mini"]
    assert (mini["context_window"], mini["max_output_tokens"]) == (128000, 16384)
    assert (mini["input_usd_per_mtok"], mini["batch_input_usd_per_mtok"]) == (0.15, 0.075)
    assert rows["hf/smollm2-135m-instruct"]["local"]
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(tmp_path / "empty"))
    assert main(["models", "--provider", "hf"]) == 0
    out = capsys.readouterr().out
    assert "hf/smollm2-135m-instruct" in out and "not downloaded" in out and "openai/" not in out
    assert main(["models", "--provider", "opnai"]) == 2
    assert "Did you mean 'openai'" in capsys.readouterr().err


def test_models_says_which_local_models_are_downloaded(capsys, monkeypatch):
    folder = smollm2.smollm2_path(str(REPO / "cache"))  # the real model the HF tests use
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(folder.parent))
    assert main(["models", "--provider", "huggingface", "--json"]) == 0
    (row,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert row["downloaded"] and row["context_window"] == 8192


def test_models_dir_is_apart_from_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("LMWRAPPER_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    seen = set()
    for name in ("one", "two"):  # a new cache directory does not mean a new download
        monkeypatch.setenv("LMWRAPPER_CACHE_DIR", str(tmp_path / name))
        seen.add(smollm2.models_dir())
        seen.add(smollm2.models_dir(str(tmp_path / name)))
    assert seen == {tmp_path / "xdg" / "lmwrapper" / "models"}
    (tmp_path / "old" / "models").mkdir(parents=True)  # where older versions put it: still used
    assert smollm2.models_dir(str(tmp_path / "old")) == tmp_path / "old" / "models"
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(tmp_path / "mine"))
    assert smollm2.models_dir(str(tmp_path / "old")) == tmp_path / "mine"


def test_run_copies_extra_columns_to_the_output_and_metadata(srv, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"prompt": "What is 2+2?", "id": "q1", "gold": "4", "tags": ["math"], "max_tokens": 3},
        "no extras"])
    out = tmp_path / "out.jsonl"
    args = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-4o-mini",
            "--base-url", srv.base_url, src, "-o", str(out)]
    for _ in range(2):  # fresh, then from the cache: the columns survive both
        assert main(args) == 0
        first, second = map(json.loads, out.read_text().splitlines())
        assert (first["id"], first["gold"], first["tags"]) == ("q1", "4", ["math"])
        assert first["completion_text"] and "gold" not in second
    prompt, columns = parse_line({"prompt": "x", "gold": "4", "metadata": {"source": "a"}})
    assert prompt.metadata == {"gold": "4", "source": "a"} and columns == {"gold": "4"}


@pytest.mark.parametrize("line,message", [
    ({"prompt": "x", "max_token": 5}, "did you mean 'max_tokens'"),
    ({"prompt": "x", "model": "gpt"}, "would be overwritten"),
])
def test_run_refuses_columns_it_cannot_pass_through(tmp_path, capsys, line, message):
    src = write_jsonl(tmp_path / "in.jsonl", [line])
    assert main(["run", "--model", "openai/gpt-4o-mini", src, "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_dry_run_of_a_local_model_counts_with_its_tokenizer(tmp_path, capsys, monkeypatch):
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    folder = smollm2.smollm2_path(str(REPO / "cache"))
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(folder.parent))
    tok = AutoTokenizer.from_pretrained(str(folder))
    src = write_jsonl(tmp_path / "in.jsonl", ["What is 2+2?", {"prompt": "Hi", "max_tokens": 7}])
    chat = sum(len(tok(tok.apply_chat_template([{"role": "user", "content": t}], tokenize=False,
                                               add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"]) for t in ("What is 2+2?", "Hi"))
    plain = sum(len(tok(t)["input_ids"]) for t in ("What is 2+2?", "Hi"))
    assert chat != plain
    for flag, expected in (([], chat), (["--chat-mode"], chat), (["--no-chat-mode"], plain)):
        assert main(["run", "--model", "hf/smollm2-135m-instruct", "--max-tokens", "5", *flag,
                     src, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert f"input tokens: {expected} " in out and "(upper bound): 12" in out, out
    args = build_parser().parse_args(["run", "--model", "hf/smollm2-135m-instruct", src])
    lm, prompts, _, window = prepare(args)
    assert dry_run(lm, prompts, window) == 0 and lm._model is None  # counted without weights


def test_chat_mode_is_refused_for_an_api_model(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ["x"])
    assert main(["run", "--model", "openai/gpt-4o-mini", "--no-chat-mode", src, "--dry-run"]) == 2
    assert "local models only" in capsys.readouterr().err


def test_docs_one_name_example_runs(monkeypatch, capsys):
    pytest.importorskip("transformers")
    from docs_blocks import python_blocks

    folder = smollm2.smollm2_path(str(REPO / "cache"))
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(folder.parent))
    (block,) = python_blocks("costs-and-models.md", "One name for any model")
    exec(compile(block, "docs/costs-and-models.md[One name for any model]", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out == " Paris\n"


def test_run_sends_string_lines_to_a_local_instruct_model_as_chats(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from cache_file import exported_rows

    folder = smollm2.smollm2_path(str(REPO / "cache"))
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(folder.parent))
    src = write_jsonl(tmp_path / "in.jsonl", ["What is 2+2?"])
    base = ["run", "--model", "hf/smollm2-135m-instruct", "--max-tokens", "2",
            "--temperature", "0", src, "-o", str(tmp_path / "out.jsonl")]
    assert main(base) == 0 and main([*base, "--no-chat-mode"]) == 0
    kinds = sorted(r["prompt"].get("kind", "text") for r in exported_rows())
    assert kinds == ["chat", "text"]  # two runs, two honest keys: nothing served across


def test_the_documented_model_table_is_the_generated_one():
    """docs/models.md is `lmwrapper models --markdown`'s output. When the installed data
    packages are the ones it names, every row must match (after `pip install -U`, they may
    differ until the page is regenerated: then its stamp says which versions it shows)."""
    import re

    from lmwrapper.cli.main import _models_markdown
    from lmwrapper.providers.registry import facts_source, known_models

    doc = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    stamp = re.search(r"Generated by `lmwrapper models --markdown` on (\S+)\. Sources: (.*)\.\n", doc)
    assert stamp, "docs/models.md lost its stamp"
    if stamp[2] != facts_source():
        pytest.skip(f"docs/models.md shows {stamp[2]}; installed: {facts_source()}")
    table = _models_markdown(known_models(), facts_source()).split("\n\n", 1)[1]
    assert _rows(table) == _rows(doc)


def _rows(markdown):
    """The table's rows, "retires DATE" read as "retired DATE" (it turns so as days pass)."""
    return [row.replace("| retires ", "| retired ") for row in markdown.splitlines()
            if row.startswith("|")]
