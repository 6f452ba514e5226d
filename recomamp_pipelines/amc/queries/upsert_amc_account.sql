-- An AMC account reached by a user's credentials; account_id is AMC's entity id.
insert into amc_accounts (account_id, account_name, country_code)
values (%(account_id)s, %(account_name)s, coalesce(%(country_code)s, 'US'))
on conflict (account_id) do update
set account_name = excluded.account_name,
    country_code = coalesce(%(country_code)s, amc_accounts.country_code),
    updated_at = now()
returning id
