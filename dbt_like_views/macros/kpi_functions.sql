-- The two formulas every KPI of the marts is built from, defined once.

-- A ratio, null when the denominator is zero or unknown (never an error, never an infinity).
create or replace function analytics.safe_divide(
    numerator double precision,
    denominator double precision
) returns double precision
language sql
immutable
parallel safe
as $$
    select numerator / nullif(denominator, 0)
$$;

-- The change from the previous week as a fraction (0.25 = +25 %), by the rule of the schema's
-- calculate_week_over_week_change: divided by the previous value's magnitude, so a change from a
-- negative value keeps the sign of the change; 0 to 0 is 0; anything else from 0 is null (no
-- finite change); null when either week is unknown.
create or replace function analytics.week_over_week_change(
    current_value double precision,
    previous_value double precision
) returns double precision
language sql
immutable
parallel safe
as $$
    select case
        when current_value is null or previous_value is null then null
        when previous_value = 0 then case when current_value = 0 then 0::double precision end
        else (current_value - previous_value) / abs(previous_value)
    end
$$;
