-- Webhook subscriptions: Tiledesk's RestHook model (DESIGN.md §3) plus `enabled` and secret rotation.
-- Applied once by `migrate` (src/subscriptions/migrate.ts), inside a transaction.

create table webhook_subscriptions (
  -- 24 lower-case hex characters, like the Mongo ObjectId Tiledesk uses for `_id`.
  id text primary key default left(replace(gen_random_uuid()::text, '-', ''), 24),
  id_project text not null,
  event text not null,
  target text not null,
  secret text not null,
  -- During a rotation the old secret still signs (Standard Webhooks allows several signatures) until it expires.
  previous_secret text null,
  previous_secret_expires_at timestamptz null,
  global boolean not null default false,
  enabled boolean not null default true,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint webhook_subscriptions_project_event_target_key unique (id_project, event, target),
  constraint webhook_subscriptions_project_check check (id_project <> ''),
  -- The event name goes into the X-Tiledesk-Event header: no CR/LF.
  constraint webhook_subscriptions_event_check check (event <> '' and event !~ '[\r\n]'),
  constraint webhook_subscriptions_target_check check (target ~ '^https?://[^/\s]'),
  constraint webhook_subscriptions_secret_check check (secret <> ''),
  constraint webhook_subscriptions_previous_secret_check
    check ((previous_secret is null) = (previous_secret_expires_at is null))
);

-- Tiledesk's lookup index { event, id_project, global }, restricted to what the snapshot loads.
create index webhook_subscriptions_lookup_idx
  on webhook_subscriptions (event, id_project, global)
  where enabled;

create function webhook_subscriptions_touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger webhook_subscriptions_touch_updated_at
  before update on webhook_subscriptions
  for each row execute function webhook_subscriptions_touch_updated_at();

-- The connector's in-memory snapshot listens on this channel. The payload is op + id only: small
-- (NOTIFY payloads are capped at 8000 bytes) and never the secret; the listener reloads the row itself.
create function webhook_subscriptions_notify() returns trigger
language plpgsql as $$
begin
  if tg_op = 'TRUNCATE' then
    perform pg_notify('webhook_subscriptions', json_build_object('op', tg_op)::text);
    return null;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    perform pg_notify('webhook_subscriptions', json_build_object('op', tg_op, 'id', old.id)::text);
  end if;
  if tg_op = 'INSERT' or (tg_op = 'UPDATE' and new.id <> old.id) then
    perform pg_notify('webhook_subscriptions', json_build_object('op', tg_op, 'id', new.id)::text);
  end if;
  return null;
end;
$$;

create trigger webhook_subscriptions_notify
  after insert or update or delete on webhook_subscriptions
  for each row execute function webhook_subscriptions_notify();

create trigger webhook_subscriptions_notify_truncate
  after truncate on webhook_subscriptions
  for each statement execute function webhook_subscriptions_notify();
