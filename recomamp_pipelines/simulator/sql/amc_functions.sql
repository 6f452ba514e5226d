-- AMC SQL functions DuckDB lacks, as macros (DuckDB function names ignore case).

-- SECONDS_BETWEEN(a, b) and friends: whole units from a to b (negative when b is earlier).
create or replace macro seconds_between(a, b) as date_diff('second', a, b);

create or replace macro minutes_between(a, b) as date_diff('minute', a, b);

create or replace macro hours_between(a, b) as date_diff('hour', a, b);

create or replace macro days_between(a, b) as date_diff('day', a, b);

-- COLLECT(x): the distinct values of x in a group, as an array.
create or replace macro collect(x) as list(distinct x)
