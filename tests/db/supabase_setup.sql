-- What a Supabase project has before any migration of ours: its roles (server-wide, created
-- race-safely because other test databases are set up at the same moment), an auth schema
-- with its own auth.uid(), and default privileges that hand every new table in public to all
-- three roles.
do $$
declare
    role_name text;
begin
    foreach role_name in array array['anon', 'authenticated', 'service_role'] loop
        if not exists (select 1 from pg_roles where rolname = role_name) then
            begin
                execute format(
                    'create role %I nologin noinherit %s',
                    role_name,
                    case when role_name = 'service_role' then 'bypassrls' else '' end
                );
            exception
                when duplicate_object or unique_violation then
                    null;
            end;
        end if;
    end loop;
end
$$;

create schema auth;
grant usage on schema auth to anon, authenticated, service_role;

-- An older Supabase auth.uid(): it reads request.jwt.claim.sub only, which lets the tests tell
-- it from the one the migrations would create.
create function auth.uid() returns uuid
language sql
stable
as $$
    select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$$;
comment on function auth.uid() is 'supabase';

alter default privileges in schema public
    grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on functions to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
