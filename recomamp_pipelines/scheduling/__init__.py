"""User schedules, without Dagster.

The life of a scheduled tick, as the Dagster glue (`defs/schedules`) drives it:

    claims = claim_due_ticks(conn, now)          # claims.py: one claim per tick, next_run_at
                                                 #   advanced in the same transaction
    waiting = waiting_batches(conn)              # claims no run took yet, by their run_key
    # ... a run of up to 25 claims is requested; a run that never served them:
    hand_back(conn, batch)                       #   the same ticks at attempt + 1
    outcome = ScheduleRunner(...).run_claim(ref) # runs/schedules.py: take_claim (runs.py)
                                                 #   records a schedule_runs row, then one AMC
                                                 #   attempt, and finish_schedule_run with the
                                                 #   counters

Modules: `cadence` (when a cron or every-N-days schedule fires, DST-correct), `timing` (a row's
cadence, its next runs and its window), `claims`, `runs` (schedule_runs rows), `manage`
(create, list, pause, resume, preview).
"""
