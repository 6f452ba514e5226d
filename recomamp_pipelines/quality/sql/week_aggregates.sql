-- Every aggregate the checks need, in one scan of the loaded week.
select {aggregates}
from {table}
where {week_rows}
