-- An AMC account reached by a user's credentials; account_id is AMC's entity id.
insert into amc_accounts (account_id, account_name)
values (%(account_id)s, %(account_name)s)
on conflict (account_id) do update
set account_name = excluded.account_name,
    updated_at = now()
returning id
