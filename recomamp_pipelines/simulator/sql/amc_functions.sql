-- AMC SQL functions DuckDB lacks, as macros (DuckDB function names ignore case).

-- SECONDS_BETWEEN(a, b) and friends: whole units from a to b (negative when b is earlier).
create or replace macro seconds_between(a, b) as date_diff('second', a, b);

create or replace macro minutes_between(a, b) as date_diff('minute', a, b);

create or replace macro hours_between(a, b) as date_diff('hour', a, b);

create or replace macro days_between(a, b) as date_diff('day', a, b);

-- COLLECT(x): the values of x in a group, as an array (the compiler turns COLLECT(DISTINCT x)
-- into list(DISTINCT x) itself).
create or replace macro collect(x) as list(x);

-- ARRAY_UNION(a, b): the distinct elements of both arrays.
create or replace macro array_union(a, b) as list_distinct(list_concat(a, b));

-- ARRAY_COMPLEMENT(a, b): the elements of a that are not in b.
create or replace macro array_complement(a, b) as list_filter(a, lambda x: not list_contains(b, x));

-- E(): Euler's number.
create or replace macro e() as exp(1);

-- HASH64(x): a 64-bit hash, signed like AMC's.
create or replace macro hash64(x) as cast(cast(hash(x) as hugeint) - 9223372036854775808 as bigint);

-- EPOCH_TO_UTC_TIMESTAMP(n): seconds, or milliseconds when the number is that large.
create or replace macro epoch_to_utc_timestamp(n) as
    cast(to_timestamp(case when abs(n) >= 100000000000 then n / 1000.0 else n end) as timestamp);

-- CONVERT_TIME_ZONE_FROM_UTC(t, zone): the wall-clock time in `zone` of the UTC time t.
create or replace macro convert_time_zone_from_utc(t, zone) as
    timezone(zone, cast(t as timestamptz));

-- STR_TO_MAP(s, pair_delimiter, key_value_delimiter): a MAP(VARCHAR, VARCHAR). Both delimiters
-- are regular expressions; an entry splits at its first key-value delimiter (the value keeps the
-- rest) and an entry without one maps its text to NULL. A repeated key fails the query.
create or replace macro str_to_map(s, pair_delimiter, key_value_delimiter) as
    map_from_entries(list_transform(
        regexp_split_to_array(s, pair_delimiter),
        lambda entry: {
            'key': case
                when regexp_matches(entry, key_value_delimiter)
                then regexp_extract(entry, '^(.*?)(?:' || key_value_delimiter || ')', 1)
                else entry
            end,
            'value': case
                when regexp_matches(entry, key_value_delimiter)
                then regexp_extract(entry, '^.*?(?:' || key_value_delimiter || ')(.*)$', 1)
            end
        }
    ));

-- JSON_SERIALIZE(j): the JSON text of a JSON value (JSON_EXTRACT's result, an array, a row).
create or replace macro json_serialize(j) as cast(to_json(j) as varchar)
