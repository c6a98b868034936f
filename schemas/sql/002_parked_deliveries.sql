-- Parked deliveries (README "Parked deliveries"): a delivery whose next attempt is further away than the
-- in-process budget, or that waits behind a parked delivery of its ordered lane, or that spilled out of a
-- slow subscription's in-memory backlog, is written here and its source record counts as done.
-- Any instance claims due rows (FOR UPDATE SKIP LOCKED, with a lease), attempts them, and marks them
-- delivered, parks them again with a later due time, or dead-letters them. Finished rows are deleted
-- after DELIVERY_STORE_RETENTION_MS, and an event with no delivery left goes with them.

-- Subscriptions: ordering mode and why a subscription was disabled (410 Gone, failing too long, operator).
alter table webhook_subscriptions
  add column ordering text not null default 'concurrent',
  add column disabled_reason text null,
  add column disabled_at timestamptz null,
  add constraint webhook_subscriptions_ordering_check check (ordering in ('concurrent', 'ordered'));

-- The event, stored once however many of its deliveries are parked: the decoded fields a delivery needs
-- (the payload bytes exactly as sent) and the original record (key, value, headers) for its dead letter.
-- Every value the event schema admits must be storable: a row Postgres refused would be parked again and
-- again, as if Postgres were down.
create table webhook_events (
  id bigserial primary key,
  event_id text not null,
  event_name text not null,
  -- UTF-8 bytes, not text: an id_project may hold a NUL, which Postgres text cannot.
  id_project bytea null,
  -- Epoch ms. double precision, not bigint: the schema's integer timestamp has no maximum (1e20 is one).
  event_ts double precision not null,
  encoding text not null,
  payload bytea not null,
  topic text not null,
  partition int not null,
  record_offset bigint not null,
  record_ts text not null,
  record_key bytea null,
  record_value bytea null,
  -- {"name": ["base64", ...]}: header values are bytes.
  record_headers jsonb not null default '{}',
  created_at timestamptz not null default now()
);

-- One row per event of a record. The payload is part of the key: a topic recreated reuses offsets, and so
-- derived event ids (`<topic>-<partition>-<offset>`), for other events; those must not share a row.
create unique index webhook_events_record_key
  on webhook_events (topic, partition, record_offset, event_id, md5(payload));

create table webhook_deliveries (
  id bigserial primary key,
  -- No cascade: retention deletes an event only when no delivery references it, and a park re-using the
  -- event at that moment must make the delete fail (its FK check), not take the new delivery with it.
  event_ref bigint not null references webhook_events (id),
  -- No foreign key: a deleted subscription's parked deliveries are dead-lettered by the runner.
  subscription_id text not null,
  webhook_id text not null,
  -- Ordered subscriptions: subscription id + NUL + record key, as UTF-8 bytes; null for concurrent ones (no
  -- order). bytea, not text: Postgres text cannot hold the NUL separator.
  lane bytea null,
  -- Order inside a lane: the source record's offset (a lane's records share a partition).
  seq bigint not null,
  state text not null default 'parked',
  -- Why it was parked: retry (its next attempt is far), behind (its lane has a parked delivery),
  -- spill (its subscription's in-memory backlog was full), circuit (the subscription's breaker was open).
  parked_reason text not null,
  attempts int not null default 0,
  due_at timestamptz not null,
  lease_owner text null,
  lease_until timestamptz null,
  -- Claims so far: a finish names the claim it belongs to, so the result of a claim whose lease ran out is
  -- not applied to a later claim, even one by the same owner.
  claim_count int not null default 0,
  first_attempt_at timestamptz null,
  last_attempt_at timestamptz null,
  last_status int null,
  last_error text null,
  dead_reason text null,
  created_at timestamptz not null default now(),
  finished_at timestamptz null,
  constraint webhook_deliveries_state_check check (state in ('parked', 'delivered', 'dead')),
  constraint webhook_deliveries_parked_reason_check
    check (parked_reason in ('retry', 'behind', 'spill', 'circuit')),
  constraint webhook_deliveries_finished_check check ((state = 'parked') = (finished_at is null))
);

-- One parked row per webhook-id: a record redelivered after a rebalance parks nothing twice (only a spill
-- row held for its lane becomes due when the delivery parks again for another reason). A finished row does
-- not count, so a replayed dead letter can be parked again.
create unique index webhook_deliveries_parked_webhook_id_key
  on webhook_deliveries (webhook_id) where state = 'parked';
-- The claim: due rows first.
create index webhook_deliveries_due_idx on webhook_deliveries (due_at) where state = 'parked';
-- An ordered lane's head: the parked row with the lowest seq.
create index webhook_deliveries_lane_idx
  on webhook_deliveries (lane, seq) where state = 'parked' and lane is not null;
create index webhook_deliveries_subscription_idx on webhook_deliveries (subscription_id, state);
-- Retention: finished rows by age.
create index webhook_deliveries_finished_idx on webhook_deliveries (finished_at) where state <> 'parked';
create index webhook_deliveries_event_ref_idx on webhook_deliveries (event_ref);

-- Endpoint health, kept apart from webhook_subscriptions so its frequent updates do not notify every
-- instance's snapshot. failing_since: first failed attempt after the last 2xx (null = healthy).
create table webhook_subscription_health (
  subscription_id text primary key,
  failing_since timestamptz null,
  last_success_at timestamptz null,
  last_failure_at timestamptz null,
  updated_at timestamptz not null default now()
);
