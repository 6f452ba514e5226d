-- Every aggregate the checks need, in one scan of the staged week.
select {aggregates}
from {staging_table}
