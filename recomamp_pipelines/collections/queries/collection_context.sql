select
    c.id as collection_id,
    c.name as collection_name,
    c.status as collection_status,
    c.start_date,
    c.end_date,
    c.parameters as collection_parameters,
    c.partition_key,
    w.id as workflow_id,
    w.name as workflow_name,
    w.sql_query,
    w.parameters as workflow_parameters,
    w.template_id,
    u.id as user_id,
    u.email as user_email,
    coalesce(u.timezone, 'UTC') as user_timezone,
    u.encrypted_refresh_token,
    i.id as instance_row_id,
    i.instance_id as amc_instance_id,
    a.account_id as amc_account_id,
    a.country_code
from report_data_collections as c
inner join workflows as w on w.id = c.workflow_id
inner join users as u on u.id = c.user_id
inner join amc_instances as i on i.id = c.instance_id
inner join amc_accounts as a on a.id = i.account_id
where c.id = %(collection_id)s
