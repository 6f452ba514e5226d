select expires_at, revoked from tokens where access_token = ?
