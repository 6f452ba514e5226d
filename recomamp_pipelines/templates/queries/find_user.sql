select id, email, timezone
from users
where email = lower(%(email)s)
