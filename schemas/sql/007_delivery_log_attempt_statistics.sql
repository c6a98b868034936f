-- The planner learns that a subscription belongs to one project (bench/README.md "Delivery log").
--
-- A subscription's deliveries and a project's history read webhook_log_attempts_subscription_time_idx
-- with `id_project = … and subscription_id = …`. Without this, Postgres multiplies the two conditions'
-- selectivities as if they were independent and expects a handful of rows where there are a subscription's
-- whole day; it then reads and sorts all of them for a page instead of walking the index newest first and
-- stopping at the page's end (PG 15, 1,200 attempts of one subscription in a day: 1,200 rows read and
-- sorted without, 52 with). Extended statistics live on each day partition, where the planner looks:
-- webhook_log_ensure_partitions now creates them with each attempts partition, and is run here for the
-- days that exist. They are filled by ANALYZE, which autovacuum runs on partitions as they grow; a
-- partition dropped by retention takes its statistics with it.
create or replace function webhook_log_ensure_partitions(from_day date, days int) returns void
language plpgsql as $$
declare
  d date;
  t text;
  p text;
begin
  for i in 0 .. days - 1 loop
    d := from_day + i;
    foreach t in array array['webhook_log_messages', 'webhook_log_attempts'] loop
      p := t || '_p' || to_char(d, 'YYYYMMDD');
      execute format(
        'create table if not exists %I partition of %I for values from (%L) to (%L)',
        p, t, (d::timestamp at time zone 'UTC'), ((d + 1)::timestamp at time zone 'UTC'));
      if t = 'webhook_log_attempts' then
        execute format('create statistics if not exists %I (dependencies) on id_project, subscription_id from %I',
          p || '_subscription_stats', p);
      end if;
    end loop;
  end loop;
end;
$$;

-- The existing days: the function above, once per day that has an attempts partition.
do $$
declare
  day date;
begin
  for day in
    select to_date(right(c.relname, 8), 'YYYYMMDD')
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class t on t.oid = i.inhparent
     where t.relnamespace = to_regnamespace(current_schema()) and t.relname = 'webhook_log_attempts'
       and c.relname ~ '_p[0-9]{8}$'
  loop
    perform webhook_log_ensure_partitions(day, 1);
  end loop;
end;
$$;
