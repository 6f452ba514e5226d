-- The weeks `retry-failed` runs: FAILED ones, and the ones whose attempt died (left RUNNING, or
-- with an unfinished attempt, while no session holds the week: see WeekRunner.week_lock_key).
select wk.week_start_date, wk.status
from report_data_weeks as wk
where wk.collection_id = %(collection_id)s
    and (
        wk.status = 'FAILED'
        or (
            (
                wk.status = 'RUNNING'
                or exists (
                    select 1
                    from workflow_executions as e
                    where e.collection_id = wk.collection_id
                        and e.week_start_date = wk.week_start_date
                        and e.status in ('PENDING', 'RUNNING')
                )
            )
            and not exists (
                select 1
                from pg_locks as held
                where held.locktype = 'advisory'
                    and held.granted
                    and held.objsubid = 1
                    and held.database
                        = (select oid from pg_database where datname = current_database())
                    and ((held.classid::bigint << 32) | held.objid::bigint) = hashtextextended(
                        'recomamp-week:' || wk.collection_id::text || ':'
                        || to_char(wk.week_start_date, 'YYYY-MM-DD'),
                        0
                    )
            )
        )
    )
order by wk.week_start_date
