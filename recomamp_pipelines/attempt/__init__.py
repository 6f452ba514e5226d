"""One AMC attempt, whoever it serves: request, intent, slot, submission, poll, collection.

`lifecycle.AttemptRunner` drives an attempt from its intent to its end for an
`AttemptTarget` (a collection week, a schedule run); `executions` holds every write to
`workflow_executions`; `request` renders and identifies what is sent to AMC; `slots` is the
cross-process gate on AMC's per-instance concurrency; `owner` makes the owner's AMC clients;
`concurrency` runs many attempts of one run side by side, with their heartbeat.
"""
