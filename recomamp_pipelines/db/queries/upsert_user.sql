insert into users (email, full_name, timezone, encrypted_refresh_token)
values (%(email)s, %(full_name)s, %(timezone)s, %(encrypted_refresh_token)s)
on conflict (email) do update
set
    full_name = coalesce(excluded.full_name, users.full_name),
    timezone = excluded.timezone,
    encrypted_refresh_token = excluded.encrypted_refresh_token,
    -- a new refresh token invalidates the cached access token
    encrypted_access_token = null,
    token_expires_at = null
returning id, (xmax = 0) as is_new
