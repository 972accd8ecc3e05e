"""Upload and create one planned batch, recording each step; recover a killed run's steps.

    planned ──upload──► uploaded ──create──► submitted
       │                   │
       │ recovering:       │ recovering: a batch whose metadata names this one may exist
       │ delete files      │ (created, then the process died before storing its id):
       │ uploaded under    │ adopt it instead of creating a second one
       │ this batch's name │
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.runners.batch.state import RunState
from lmwrapper.store.batch_records import BatchRow
from lmwrapper.store.journal import open_private, private_dir

log = logging.getLogger("lmwrapper.runners.batch")
META_JOB = "lmwrapper_job"
META_BATCH = "lmwrapper_batch"


def submit(runner: RunState, uid: str) -> None:
    b = runner.records.batch(uid)
    if b is None:
        return
    recovering = uid not in runner.fresh
    if b.state == "planned":
        if recovering:
            _delete_orphan_files(runner, uid)
        path = _input_file(runner, b)
        file_id = runner.adapter.upload(path, f"{uid}.jsonl")
        runner.records.set_batch(uid, state="uploaded", file_id=file_id)
        b.file_id, b.state = file_id, "uploaded"
    if b.state == "uploaded":
        if recovering and _adopt_created(runner, b):
            return
        path = _input_file(runner, b)
        remote = runner.adapter.create(path, b.file_id, {META_JOB: b.job_id, META_BATCH: uid})
        runner.records.set_batch(uid, state="submitted", remote_id=remote.id,
                                 remote_status=remote.provider_status)
        log.info("batch %s submitted as %s (%d requests)", uid, remote.id, b.lines)
        runner.progress.batch_status(uid, remote.provider_status)


def _adopt_created(runner: RunState, b: BatchRow) -> bool:
    for remote in runner.adapter.list_batches():
        if remote.metadata.get(META_BATCH) == b.uid:
            runner.records.set_batch(b.uid, state="submitted", remote_id=remote.id,
                                     remote_status=remote.provider_status)
            log.info("batch %s adopted: created as %s by a run that stopped", b.uid, remote.id)
            return True
    return False


def _delete_orphan_files(runner: RunState, uid: str) -> None:
    for file_id in list(runner.adapter.list_files(uid)):
        runner.adapter.delete_file(file_id)
        log.info("batch %s: deleted orphaned input file %s", uid, file_id)


def _input_file(runner: RunState, b: BatchRow) -> Path:
    """The batch's input file; rebuilt from its recorded lines if it is gone from disk."""
    path = Path(b.input_path or runner.directory / f"{b.uid}.jsonl")
    if path.exists():
        return path
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    with open_private(tmp, "wb") as out:
        for cid, _key, _first, n, prompt_json, _ in runner.records.line_prompts(b.uid):
            line = runner.adapter.build_line(cid, LmPrompt.from_dict(json.loads(prompt_json)), n)
            out.write((json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
    tmp.replace(path)
    return path
