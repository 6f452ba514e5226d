update tokens set revoked = 1 where revoked = 0
