select distinct {column}
from {results_table}
where source_id = %(collection_id)s
    and week_start_date = %(week_start_date)s
    and {column} is not null
limit %(limit)s
