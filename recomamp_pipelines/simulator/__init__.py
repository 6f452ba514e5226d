"""A local Amazon Marketing Cloud: AMC's reporting API over HTTP, running AMC SQL on generated data.

Run it with `recomamp amc-simulator serve` (or `python -m recomamp_pipelines.simulator`); it
prints `AMC simulator listening on http://HOST:PORT` once it accepts connections, within a
second or two (data is generated lazily, a day at a time, and cached). This package imports
nothing else of recomamp_pipelines; the pipeline reaches it by configuration alone
(`amc_api_url` = the base URL, `amc_token_url` = base URL + `/auth/o2/token`).

Command-line options (defaults in brackets; options beat the settings file)
    --host [127.0.0.1]  --port [8765; 0 picks a free port]
    --client-id [amzn1.application-oa2-client.recomampsimulator]
    --client-secret [simulator-client-secret]
    --refresh-token [Atzr|simulator-refresh-token]   repeatable, one per user
    --instance [amcsimulator01]   repeatable; each accepts any AdvertiserId unless the settings
                                  file lists `advertiser_ids` for it
    --execution-seconds [2.0]     simulated RUNNING time of an execution
    --state-dir [in memory]       SQLite state.db + results/ there survive restarts (workflows,
                                  executions, schedules, tokens, the clock, result files)
    --settings FILE               JSON, or TOML when the name ends in .toml
    --latency-seconds [0]  --fault KEY=VALUE (repeatable)  --seed [20240101]
    --data-scale [1.0]  --clock ISO [real time]  --freeze-clock  --log-level [warning]

Settings file keys (all optional)
    client_id, client_secret, refresh_tokens, execution_seconds, pending_seconds [0],
    state_dir, seed, data_scale, history_weeks [60], cache_max_rows [6000000],
    token_lifetime_seconds [3600], download_url_ttl_seconds [300],
    max_running_per_instance [10], max_running_per_account [200],
    max_overlapping_runs [0: no limit; else executions of one workflow over overlapping
    windows beyond it are REJECTED], result_file_max_rows [1000000],
    aggregation_threshold [100: the MEDIUM and HIGH classes'; LOW 2 and NONE 1, never more],
    data_lag_hours [48], engine_threads [2],
    engine_memory_limit [2GB] (DuckDB spills beyond it), latency_seconds,
    clock = {now = ISO, frozen = bool}, faults = {<fault>: value, ...},
    accounts = [{account_id, account_name, marketplace_id}, ...]
        [ENTITY1AA1AA11AAA1, "Simulated AMC account", ATVPDKIKX0DER],
    instances = [{instance_id, instance_name, account_id, advertiser_ids = [...],
        paid_features = [FLEXIBLE_SHOPPING_INSIGHTS, AUDIENCE_SEGMENT_INSIGHTS, ...]}, ...]:
        a paid feature's tables exist only on instances that list it.

Tables and SQL: every table of Amazon's AMC data-source reference (recomamp_pipelines/amc_sql/
catalogue.json) over generated data shared by all of them, checked by the same AMC SQL front end
as the pipeline's validator; README.md beside this file lists what is supported.

Endpoints
    POST /auth/o2/token                    Login with Amazon (form: grant_type=refresh_token,
                                           refresh_token, client_id, client_secret); 400
                                           invalid_grant, 401 invalid_client
    GET  /amc/accounts                     {"amcAccounts": [...]}
    GET  /amc/instances[/{instanceId}]     {"instances": [...], "nextToken"}
    /amc/reporting/{instanceId}/...        workflows, workflowExecutions (+ /downloadUrls),
                                           schedules, dataSources, as in AMC_API.md
    GET  /s3/amc-results/...               pre-signed result files (no headers needed)
    /_sim/faults (GET, POST to change, DELETE to clear), /_sim/counters, /_sim/clock (GET;
    POST {"now": ISO, "frozen": bool} | {"advance_seconds": n} | {"real": true}),
    /_sim/reset, /_sim/tokens/invalidate, /_sim/tick, /_sim/health: test controls.

Every AMC call needs Amazon-Advertising-API-ClientId (the configured client id), a valid
unexpired `Authorization: Bearer` token (else 401 {"message": "Unauthorized"}),
Amazon-Advertising-API-AdvertiserId (not for /amc/accounts and /amc/instances) and
Amazon-Advertising-API-MarketplaceId (else 400). Errors are {"code": "400", "details": ...};
unknown instances, workflows, executions and schedules answer 404. Objects are answered flat
(an execution, a workflow, a schedule, a data source are the JSON object itself). Bodies are
read as JSON whatever their Content-Type; booleans and numbers may come as strings ("True",
"86400"); an empty query parameter is an absent one.

Time windows: `timeWindowStart`/`timeWindowEnd` are naive wall-clock times in
`timeWindowTimeZone` (IANA, default UTC), AMC's reading. A `Z` suffix or an offset names an
instant and is used as that instant (so a UTC midnight asked of America/New_York covers 19:00 to
19:00 local): results are shifted, never silently empty, and the request never fails for it.
Answers give the window in UTC (`2024-01-20T05:00:00Z`) and the strings sent in
`timeWindowStartOriginal`/`EndOriginal`. Without timeWindowType, start and end mean EXPLICIT,
neither means MOST_RECENT_DAY. `dataGaps` lists each table read when the window ends less than
`data_lag_hours` before the clock; the execution runs either way. `dryRun` executions succeed
without output. `skipPublish` is accepted. A workflow's `outputColumns`, when given, must name
the query's output columns (else 400 at create time); `privacyFilteringBehavior` REMOVE_ROWS
(the default) drops rows under the threshold, REMOVE_VALUES keeps them with their metrics
NULL. Answers carry the versioned media type the request asked for
(`application/vnd.amcworkflowexecutions.v1+json` and its kind), plain JSON otherwise.

Lifecycle (simulated clock): PENDING for `pending_seconds`, then RUNNING when one of the
instance's `max_running_per_instance` slots and one of its account's `max_running_per_account`
are free, SUCCEEDED after `execution_seconds` once
the query finished (FAILED when it exceeds workflowExecutionTimeoutSeconds or the query fails).
Cancelling is allowed while PENDING or RUNNING. AMC's schedules (Daily/Weekly at
aggregationHourUtc) fire once per period for the period before, never backfilling.

SQL and privacy: see `engine`. Throughput mode: send `disableAggregationControls: true` (the
simulator honours it for any instance) to switch the aggregation threshold off, and group on
near-unique columns, e.g. `SELECT impression_dt_utc, creative_id, postal_code,
SUM(impressions) ... GROUP BY 1, 2, 3` gives one row per impression: about 1.1 million rows for a
default week, 5.5 million with `data_scale = 5`. Results are sorted and copied by DuckDB into
`result_file_max_rows`-row CSV files without passing through Python.

Faults (see `faults`): latency_seconds; rate_limit_next / rate_limit_rate /
rate_limit_retry_after (None: no Retry-After); server_error_next / server_error_rate /
server_error_status; unauthorized_next / unauthorized_rate (401 to a valid token: the user's
grant no longer reaches the account, and no fresh token helps); fault_path_contains /
fault_method to aim those; expire_tokens_after_calls (and POST /_sim/faults
{"invalidate_tokens": true}); token_error_next / token_error_rate / token_error_status [503] /
token_error_code [by status: 400 invalid_grant, 401 invalid_client, 500 server_error, else
temporarily_unavailable] / token_error_retry_after (on 429 and 5xx) for Login with Amazon's
token endpoint; fail_next_executions +
fail_status_reason; reject_next_executions + reject_status_reason;
stuck_pending_next_executions; header_only_next_executions; truncate_next_downloads (a
Content-Length larger than the body, then the connection closes);
hold_create_response_seconds (the execution exists before the answer leaves);
execution_seconds, result_file_max_rows and download_url_ttl_seconds overrides.
GET /_sim/counters counts submissions per (instance, workflow, window, zone) (ad hoc
workflows by a hash of their SQL), calls per route, answers per status, downloads, token
requests (faulted ones included) and tokens issued.
"""
