delete from workflows;
delete from executions;
delete from schedules
