select to_regclass(%(relation_name)s) is not null as relation_exists
