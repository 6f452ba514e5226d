-- The schema where a week's result is staged before its checks and publish. Created here once,
-- not by the first staging: two weeks staging at once on a fresh database would both try to
-- create it, and one of them would fail.
-- depends: 0011_schedule_batches

create schema if not exists results_staging;
