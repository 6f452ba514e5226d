update report_data_collections
set
    report_metadata = %(report_metadata)s,
    last_report_generated_at = now(),
    started_at = coalesce(started_at, now()),
    status = case
        when status = 'ACTIVE' and %(all_weeks_succeeded)s and end_date < %(today)s
            then 'COMPLETED'
        else status
    end,
    completed_at = case
        when status = 'ACTIVE' and %(all_weeks_succeeded)s and end_date < %(today)s then now()
        else completed_at
    end
where id = %(collection_id)s
