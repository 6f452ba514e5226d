-- Supabase compatibility: the `auth.uid()` function and the `authenticated` role that the
-- row-level security policies rely on. On Supabase both already exist and are left untouched;
-- on plain PostgreSQL they are created here.

do $$
begin
    if not exists (select 1 from pg_namespace where nspname = 'auth') then
        create schema auth;
    end if;
end
$$;

-- Reads the same settings as Supabase's own auth.uid(): PostgREST sets request.jwt.claims
-- (JSON) and older versions request.jwt.claim.sub.
do $$
begin
    if to_regprocedure('auth.uid()') is null then
        create function auth.uid() returns uuid
        language sql
        stable
        as $fn$
            select coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            )::uuid
        $fn$;
        comment on function auth.uid() is
            'The user id of the request: the sub claim of the JWT settings, as on Supabase.';
    end if;
end
$$;

-- Roles belong to the whole server, and several databases may be migrated at the same moment:
-- the loser of a concurrent CREATE ROLE gets duplicate_object or unique_violation, which means
-- the role now exists.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        begin
            create role authenticated nologin noinherit;
        exception
            when duplicate_object or unique_violation then
                null;
        end;
    end if;
end
$$;

do $$
begin
    if has_schema_privilege('authenticated', 'auth', 'usage') is false
        and pg_has_role(
            (select nspowner from pg_namespace where nspname = 'auth'), 'member'
        ) then
        grant usage on schema auth to authenticated;
    end if;
end
$$;
