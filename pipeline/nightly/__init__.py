"""The nightly job: rerun `resolve` on a changed snapshot, recomputing only what changed."""
