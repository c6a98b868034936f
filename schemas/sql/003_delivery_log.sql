-- The management API (README "Management API"): API keys, and the delivery log that answers "did my webhook
-- arrive, and what did my server answer?".
--
-- The delivery log records every attempt of every delivery (in process or by the parked runner), written in
-- batches off the delivery path. Both log tables are partitioned by UTC day; retention
-- (DELIVERY_LOG_RETENTION_DAYS) drops whole partitions, never deletes rows, so the log's size costs no
-- vacuum and an old day goes in one catalog operation. Partitions are created ahead of time by
-- webhook_log_ensure_partitions (called by the connector and the API at start and every hour); there is no
-- default partition, since rows in a default partition could only be removed by deletes.

-- API keys: `whk_<id>_<secret>`; only sha256(secret) is stored. A project key (id_project set) acts on its
-- project only; a platform key (id_project null) on every project, and alone may manage global subscriptions.
create table webhook_api_keys (
  id text primary key,
  id_project text null,
  name text not null default '',
  secret_sha256 bytea not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz null,
  last_used_at timestamptz null,
  constraint webhook_api_keys_id_check check (id ~ '^[a-z0-9]{8,64}$'),
  constraint webhook_api_keys_project_check check (id_project is null or id_project <> ''),
  constraint webhook_api_keys_secret_check check (octet_length(secret_sha256) = 32)
);

-- The event of a logged delivery, written once per event by each writer that logs it (an event retried on
-- another instance may be written again: readers take any copy with its message_key). What a resend needs:
-- the decoded fields (payload bytes exactly as sent) and the original record for a dead letter.
create table webhook_log_messages (
  logged_at timestamptz not null,
  -- md5 hex of topic, partition, offset, record timestamp and event id (src/delivery-log/message-key.ts):
  -- the join key.
  message_key text not null,
  event_id text not null,
  event_name text not null,
  -- UTF-8 bytes, as in webhook_events (an id_project may hold a NUL).
  id_project bytea null,
  event_ts double precision not null,
  encoding text not null,
  payload bytea not null,
  topic text not null,
  partition int not null,
  record_offset bigint not null,
  record_ts text not null,
  record_key bytea null,
  record_value bytea null,
  record_headers jsonb not null default '{}'
) partition by range (logged_at);

create index webhook_log_messages_key_idx on webhook_log_messages (message_key);

-- One row per attempt (Svix's message attempt).
create table webhook_log_attempts (
  attempted_at timestamptz not null,
  -- The delivery: its webhook-id (a hash of event id and subscription id), the same on every attempt.
  webhook_id text not null,
  message_key text not null,
  subscription_id text not null,
  -- The subscription's project (what a project caller may read), its event name and target at the time.
  id_project text not null,
  -- A global subscription's attempts (every project's events) are the platform's: no project caller reads them.
  subscription_global boolean not null default false,
  event_name text not null,
  target text not null,
  -- 1-based attempt number of the delivery.
  attempt int not null,
  -- scheduled: the delivery's own schedule; manual: resend, recover or test through the API or the CLI.
  trigger text not null,
  -- delivered (2xx), retryable or permanent (the attempt's classification), and the failure reason.
  result text not null,
  reason text null,
  status_code int null,
  duration_ms double precision not null,
  error text null,
  -- The response body's first bytes (at most 4 KiB), as text.
  response_excerpt text null,
  -- The instance that made the attempt (host:pid:random).
  instance text not null,
  constraint webhook_log_attempts_trigger_check check (trigger in ('scheduled', 'manual')),
  constraint webhook_log_attempts_result_check check (result in ('delivered', 'retryable', 'permanent'))
) partition by range (attempted_at);

create index webhook_log_attempts_project_idx on webhook_log_attempts (id_project, attempted_at desc);
create index webhook_log_attempts_subscription_idx
  on webhook_log_attempts (subscription_id, attempted_at desc);
create index webhook_log_attempts_webhook_id_idx on webhook_log_attempts (webhook_id, attempted_at);

-- Creates the daily partitions of both log tables from `from_day` for `days` days (idempotent).
create function webhook_log_ensure_partitions(from_day date, days int) returns void
language plpgsql as $$
declare
  d date;
  t text;
begin
  for i in 0 .. days - 1 loop
    d := from_day + i;
    foreach t in array array['webhook_log_messages', 'webhook_log_attempts'] loop
      execute format(
        'create table if not exists %I partition of %I for values from (%L) to (%L)',
        t || '_p' || to_char(d, 'YYYYMMDD'), t,
        (d::timestamp at time zone 'UTC'), ((d + 1)::timestamp at time zone 'UTC'));
    end loop;
  end loop;
end;
$$;

-- Drops the daily partitions of both log tables (of the current schema) that end on or before `before_day`
-- (UTC); returns how many.
create function webhook_log_drop_partitions(before_day date) returns int
language plpgsql as $$
declare
  r record;
  n int := 0;
begin
  for r in
    select c.relname
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
     where p.relnamespace = to_regnamespace(current_schema())
       and p.relname in ('webhook_log_messages', 'webhook_log_attempts')
       and c.relname ~ '_p[0-9]{8}$'
       and to_date(right(c.relname, 8), 'YYYYMMDD') < before_day
  loop
    execute format('drop table %I', r.relname);
    n := n + 1;
  end loop;
  return n;
end;
$$;

select webhook_log_ensure_partitions((now() at time zone 'UTC')::date - 1, 3);

-- Deliveries parked by a person (resend, recover, test through the API or the CLI): attempted at once, then
-- on the normal schedule.
alter table webhook_deliveries
  drop constraint webhook_deliveries_parked_reason_check,
  add constraint webhook_deliveries_parked_reason_check
    check (parked_reason in ('retry', 'behind', 'spill', 'circuit', 'manual'));

-- A delivery's dead row by webhook-id (the management API: a delivery's status, resend, recover). Only dead
-- rows: a parked one is found by webhook_deliveries_parked_webhook_id_key, and delivered rows are never read
-- by webhook-id, so the parking path pays for no extra index entry until a row dies.
create index webhook_deliveries_dead_webhook_id_idx on webhook_deliveries (webhook_id) where state = 'dead';
