select {columns}
from {table}
where {week_rows}
limit %(limit)s
