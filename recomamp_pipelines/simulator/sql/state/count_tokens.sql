select count(*) as n from tokens
