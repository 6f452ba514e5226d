-- The user's tokens re-encrypted, unless they changed since they were read (then left alone).
update users
set
    encrypted_refresh_token = %(refresh_token)s,
    encrypted_access_token = %(access_token)s
where
    id = %(user_id)s
    and encrypted_refresh_token is not distinct from %(previous_refresh_token)s
    and encrypted_access_token is not distinct from %(previous_access_token)s
