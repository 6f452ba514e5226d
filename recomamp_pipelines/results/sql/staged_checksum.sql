-- A multiset digest of the rows: two 64-bit halves of each row's md5, summed exactly.
-- Sums do not depend on row order or on how AMC split the result into files.
with row_digests as (
    select md5(row({columns})::text) as digest
    from {staging_table}
)

select
    count(*) as row_count,
    coalesce(sum(('x' || substr(digest, 1, 16))::bit(64)::bigint::numeric), 0) as high_sum,
    coalesce(sum(('x' || substr(digest, 17, 16))::bit(64)::bigint::numeric), 0) as low_sum
from row_digests
