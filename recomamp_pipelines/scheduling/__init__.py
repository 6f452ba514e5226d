"""User schedules and unasked collection weeks, without Dagster.

The life of a scheduled tick, as the Dagster glue (`defs/schedules`) drives it:

    claims = claim_due_ticks(conn, now)          # claims.py: one claim per tick, next_run_at
                                                 #   advanced in the same transaction
    waiting = waiting_batches(conn)              # claims no run took yet, by their run_key
    # ... a run of up to 25 claims is requested; a run that never served them:
    hand_back(conn, batch)                       #   the same ticks at attempt + 1
    outcome = ScheduleRunner(...).run_claim(ref) # run_window.py: take_claim (runs.py) records
                                                 #   a schedule_runs row, then render, submit or
                                                 #   resume, poll, load and publish, and
                                                 #   finish_schedule_run with the counters

Modules: `cadence` (when a cron or every-N-days schedule fires, DST-correct), `timing` (a row's
cadence, its next runs and its window), `claims`, `runs`, `run_window`, `manage` (create, list,
pause, resume, preview), `collection_plans` (backfills of registered ranges, nightly weeks and
refreshes), `recovery` (executions whose run died: AMC's verdict, resume or record FAILED).
"""
