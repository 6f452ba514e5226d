-- The template library as the pipeline installs it: a stable key per official template, its
-- version and the checksum of its SQL. (query_template_parameters already has every field the
-- library's parameter definitions need: name, type, display name, description, default,
-- validation rules, order, group and the full list of parameter types.)
-- depends: 0005_amc_instance_slots

alter table query_templates
    add column template_key text constraint uq_query_templates_template_key unique,
    add column sql_checksum text
        constraint chk_query_template_sql_checksum check (sql_checksum ~ '^[0-9a-f]{64}$'),
    alter column version set not null,
    add constraint chk_query_template_version check (version >= 1);

comment on column query_templates.template_key is
    'Stable key of an official template (e.g. ''path_to_conversion''), kept across versions';
comment on column query_templates.sql_checksum is 'sha256 (lower-case hex) of sql_template';
