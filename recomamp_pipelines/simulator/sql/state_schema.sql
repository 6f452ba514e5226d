-- The simulator's own state (SQLite): in memory, or in <state-dir>/state.db to survive restarts.

create table if not exists workflows (
    instance_id text not null,
    workflow_id text not null,
    body text not null,
    create_time text not null,
    last_updated_time text not null,
    primary key (instance_id, workflow_id)
);

create table if not exists executions (
    execution_id text primary key,
    instance_id text not null,
    seq integer not null,
    workflow_id text not null,
    status text not null,
    create_time text not null,
    record text not null
);

create index if not exists executions_by_instance on executions (instance_id, seq);

create table if not exists schedules (
    instance_id text not null,
    schedule_id text not null,
    body text not null,
    primary key (instance_id, schedule_id)
);

create table if not exists tokens (
    access_token text primary key,
    refresh_token text not null,
    expires_at text not null,
    revoked integer not null default 0
);

create table if not exists meta (
    key text primary key,
    value text not null
)
