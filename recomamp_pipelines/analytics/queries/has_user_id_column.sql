select 1 as has_user_id
from pg_attribute
where attrelid = to_regclass(%(relation_name)s) and attname = 'user_id' and not attisdropped
