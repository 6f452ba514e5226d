insert into meta (key, value) values (?, ?)
on conflict (key) do update set value = excluded.value
