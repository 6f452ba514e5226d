select
    u.id as user_id,
    u.email,
    u.full_name,
    u.timezone,
    u.encrypted_refresh_token is not null as has_refresh_token,
    u.is_active
from users as u
order by u.email
