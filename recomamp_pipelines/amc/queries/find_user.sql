-- The user whose AMC access is checked, by email (stored lower case).
select id, encrypted_refresh_token
from users
where email = lower(trim(%(email)s))
