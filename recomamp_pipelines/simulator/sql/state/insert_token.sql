insert into tokens (access_token, refresh_token, expires_at) values (?, ?, ?)
