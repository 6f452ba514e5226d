-- One page of users holding an encrypted token, in id order after the previous page.
select
    id as user_id,
    email,
    encrypted_refresh_token,
    encrypted_access_token
from users
where
    (encrypted_refresh_token is not null or encrypted_access_token is not null)
    and id > %(after)s
order by id
limit %(page_size)s
