select
    u.id as user_id,
    u.email,
    u.timezone,
    u.encrypted_refresh_token,
    i.id as instance_row_id,
    i.instance_id as amc_instance_id,
    a.account_id as amc_account_id
from users as u
left join amc_instances as i on i.user_id = u.id
left join amc_accounts as a on a.id = i.account_id
where u.email = lower(%(email)s)
order by i.instance_id
