-- An AMC instance reached by a user's credentials, under the account it was listed with.
insert into amc_instances (instance_id, name, user_id, account_id, region, is_active)
values (
    %(instance_id)s,
    %(name)s,
    %(user_id)s,
    %(account_row_id)s,
    coalesce(%(region)s, 'us-east-1'),
    true
)
on conflict (instance_id, user_id) do update
set name = excluded.name,
    account_id = excluded.account_id,
    region = coalesce(%(region)s, amc_instances.region),
    is_active = true,
    updated_at = now()
returning id
