"""`lmwrapper batch wait`'s bar reads as text: batch statuses as `status:count`."""

from lmwrapper.runners.batch.progress import JobProgress


def test_the_bar_shows_batch_statuses_as_words_and_counts(capsys):
    progress = JobProgress(total=3, estimate_usd=0.5, show=True)
    progress.batch_status("b1", "in_progress")
    progress.batch_status("b2", "in_progress")
    progress.batch_status("b3", "completed")
    progress.done(failed=False)
    progress.close()
    err = capsys.readouterr().err
    assert "batches=in_progress:2 completed:1" in err, err
    assert "{" not in err and "'" not in err, err


def test_the_bar_shows_a_sub_cent_estimate_as_format_usd_does():
    """Not "$0.0000": the same text as `estimate_cost` and the dry run."""
    assert JobProgress(total=1, estimate_usd=0.0000608, show=False).estimate == "$0.0000608"
