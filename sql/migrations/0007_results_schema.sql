-- Typed per-workflow result tables are created here by the pipeline; signed-in users may look
-- them up (each table's own grants and policies decide what they read).
-- depends: 0006_query_library

create schema if not exists results;
grant usage on schema results to authenticated;
