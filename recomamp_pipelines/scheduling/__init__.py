"""When schedules fire: cron and every-N-days cadences in a time zone, without Dagster."""
