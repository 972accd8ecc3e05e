"""What a planned line's record holds: a compact prompt that older records still read like,
custom ids in the order they were made, and stored prompts that hash to their keys."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.store.db import KEY_SCHEMA_VERSION
from lmwrapper.structs import LmPrompt
from tests.batching.conftest import run_runner, sent_lines


def _lines(lm):
    with sqlite3.connect(lm.cache.path) as c:
        return c.execute("SELECT custom_id, prompt FROM batch_lines ORDER BY rowid").fetchall()


def test_records_leave_defaults_out_and_ids_sort_in_the_order_they_were_made(srv, make_lm):
    lm = make_lm()
    ps = [LmPrompt(f"q{i}", max_tokens=3, temperature=0, stop=["\n"]) for i in range(20)]
    run_runner(lm, ps, should_stop=lambda: True)  # claimed and planned; nothing sent
    lines = _lines(lm)
    assert len(lines) == 20
    ids = [cid for cid, _ in lines]
    assert ids == sorted(ids)  # 20 > 0xf: unpadded hex ids ("-a" > "-10") would not be
    for (_, record), p in zip(lines, ps):
        d = json.loads(record)
        assert d == {"text": p.text, "max_tokens": 3, "temperature": 0.0, "stop": ["\n"]}
        assert LmPrompt.from_dict(d) == p


def test_a_full_record_of_an_earlier_version_still_rebuilds_its_input_file(srv, make_lm):
    lm = make_lm()
    ps = [LmPrompt(f"q{i}", max_tokens=3, temperature=0, top_p=0.5) for i in range(3)]
    run_runner(lm, ps, should_stop=lambda: True)
    with sqlite3.connect(lm.cache.path) as c:  # as 0.x wrote them: every field, no input file
        for (cid, record), p in zip(_lines(lm), ps):
            assert "logprobs" not in json.loads(record)
            c.execute("UPDATE batch_lines SET prompt = ? WHERE custom_id = ?",
                      (json.dumps(p.to_dict()), cid))
        for (path,) in c.execute("SELECT input_path FROM batch_batches").fetchall():
            os.unlink(path)
    preds = list(lm.predict_many(ps, completion_window=CompletionWindow.BATCH_ANY))
    assert [p.has_errors for p in preds] == [False] * 3
    bodies = sorted((body["messages"][-1]["content"], body["top_p"], body["max_tokens"])
                    for _, _, body in sent_lines(srv))
    assert bodies == [("q0", 0.5, 3), ("q1", 0.5, 3), ("q2", 0.5, 3)]


def test_every_stored_prompt_hashes_to_its_key(srv, make_lm):
    """The key is sha256 over the same encoding the prompts table stores: anyone can check a
    row's key from its prompt, and a new result's prompt is encoded once, not twice."""
    lm = make_lm()
    ps = [LmPrompt("plain", max_tokens=3, temperature=0),
          LmPrompt([{"role": "system", "content": "Be brief."}, "hi"], max_tokens=4,
                   temperature=0, stop=["x"], response_format="json_object")]
    list(lm.predict_many(ps, completion_window=CompletionWindow.BATCH_ANY))  # the collector
    list(lm.predict_many([LmPrompt("live", max_tokens=3, temperature=0)]))  # the engine
    rows = list(lm.cache.export_rows())
    assert len(rows) == 3
    with sqlite3.connect(lm.cache.path) as c:
        stored = dict(c.execute("SELECT key, prompt FROM prompts").fetchall())
    for r in rows:
        body = f"{KEY_SCHEMA_VERSION}\x1f{lm.identity_json()}\x1f{stored[r['key']]}"
        assert hashlib.sha256(body.encode()).hexdigest() == r["key"]
