/**
 * The parked-delivery store's SQL (schemas/sql/002_parked_deliveries.sql), apart from the code that runs
 * it. Multi-row writes take one array per column (`unnest`); times from the caller are epoch ms, compared
 * with the database clock. Each statement's parameters are built next to its call in `pg-delivery-store.ts`.
 */
const ms = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;
const fromMs = (param: string): string => `to_timestamp(${param} / 1000.0)`;

/**
 * A row a runner may take now (`d` = webhook_deliveries, `s` = its subscription, left-joined): of an
 * enabled subscription, or of one deleted or disabled by its endpoint health (the runner dead-letters
 * those); an operator-disabled subscription's rows wait for it to be enabled again. The lane
 * conditions read other rows of the lane: a lane's rows are claimed one at a time, in seq order. They read
 * the statement's snapshot: a row parked with a lower seq than a row another claim is leasing at that very
 * moment could be claimed next to it (lanes park in seq order, so only a rebalance race can do that).
 */
const CLAIMABLE = `d.state = 'parked' and d.due_at <= now()
  and (d.lease_until is null or d.lease_until < now())
  and (s.id is null or s.enabled or s.disabled_reason in ('gone', 'failing'))
  and (d.lane is null or (
    not exists (select 1 from webhook_deliveries h
                where h.lane = d.lane and h.state = 'parked' and (h.seq, h.id) < (d.seq, d.id))
    and not exists (select 1 from webhook_deliveries l
                    where l.lane = d.lane and l.state = 'parked' and l.id <> d.id and l.lease_until >= now())))`;

/**
 * An event's row: an existing one of the same record, event id and payload (a redelivered record), or a new
 * one. Returns every row, the existing ones too (the no-op update), with the payload's md5 to match them.
 */
export const INSERT_EVENTS = `insert into webhook_events (event_id, event_name, id_project, event_ts, encoding, payload,
    topic, partition, record_offset, record_ts, record_key, record_value, record_headers)
  select * from unnest($1::text[], $2::text[], $3::bytea[], $4::float8[], $5::text[], $6::bytea[],
    $7::text[], $8::int[], $9::bigint[], $10::text[], $11::bytea[], $12::bytea[], $13::jsonb[])
  on conflict (topic, partition, record_offset, event_id, md5(payload)) do update set event_id = excluded.event_id
  returning id, topic, partition, record_offset::text, event_id, md5(payload) as payload_md5`;

/**
 * A delivery's row, once per webhook-id: parked again (a redelivered record) it changes nothing, except a
 * spill row held for its lane, which becomes due when the delivery parks for another reason (`behind`).
 */
export const INSERT_DELIVERIES = `insert into webhook_deliveries (event_ref, subscription_id, webhook_id, lane, seq,
    parked_reason, attempts, due_at, first_attempt_at, last_attempt_at, last_status, last_error)
  select u.event_ref, u.subscription_id, u.webhook_id, u.lane, u.seq, u.reason, u.attempts,
    ${fromMs('u.due')}, ${fromMs('u.first')}, ${fromMs('u.last')}, u.status, u.error
  from unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::int[],
    $8::float8[], $9::float8[], $10::float8[], $11::int[], $12::text[])
    as u(event_ref, subscription_id, webhook_id, lane, seq, reason, attempts, due, first, last, status, error)
  on conflict (webhook_id) where state = 'parked' do update
    set due_at = least(webhook_deliveries.due_at, excluded.due_at)
    where webhook_deliveries.parked_reason = 'spill' and excluded.parked_reason <> 'spill'`;

export const CLAIM = `with picked as (
    select d.id, d.lease_until as previous_lease_until, s.id is null as subscription_deleted,
      case when s.enabled then null else s.disabled_reason end as subscription_disabled
    from webhook_deliveries d left join webhook_subscriptions s on s.id = d.subscription_id
    where ${CLAIMABLE}
      -- Skipped: enabled subscriptions whose circuit refuses attempts now. A deleted or disabled one's
      -- rows are dead-lettered without an attempt, circuit or not.
      and (d.subscription_id <> all($4::text[]) or s.enabled is not true)
    order by d.due_at
    limit $2
    for update of d skip locked
  ), claimed as (
    update webhook_deliveries d
    set lease_owner = $1, lease_until = now() + $3 * interval '1 millisecond', claim_count = d.claim_count + 1
    from picked p
    where d.id = p.id
    returning d.*, p.previous_lease_until is not null as lease_expired, p.subscription_deleted,
      p.subscription_disabled
  )
  select c.id::text, c.claim_count as claim, c.subscription_id, c.webhook_id, c.lane, c.attempts,
    ${ms('c.due_at')} as due_at, c.parked_reason,
    c.lease_expired, c.subscription_deleted, c.subscription_disabled, ${ms('c.first_attempt_at')} as first_attempt_at,
    c.last_status, c.last_error, e.event_id, e.event_name, e.id_project, e.event_ts,
    e.encoding, e.payload, e.topic, e.partition, e.record_offset::text, e.record_ts, e.record_key,
    e.record_value, e.record_headers
  from claimed c join webhook_events e on e.id = c.event_ref
  order by c.due_at, c.id`;

/** What a finish with an attempt sets; one without (`last` null: no attempt) keeps the last attempt's. */
const LAST_ATTEMPT = `attempts = u.attempts,
    first_attempt_at = coalesce(${fromMs('u.first')}, d.first_attempt_at),
    last_attempt_at = coalesce(${fromMs('u.last')}, d.last_attempt_at),
    last_status = case when u.last is null then d.last_status else u.status end,
    last_error = case when u.last is null then d.last_error else u.error end,
    lease_owner = null, lease_until = null`;

/**
 * A finish applies to the claim it belongs to only (`u.claim`, the row's claim count when claimed): a claim
 * whose lease ran out may deliver its result after the row was claimed again, even by the same owner.
 */
const FINISH_WHERE = `where d.id = u.id and d.lease_owner = $1 and d.state = 'parked' and d.claim_count = u.claim`;

export const FINISH_DELIVERED = `update webhook_deliveries d
  set state = 'delivered', finished_at = now(), ${LAST_ATTEMPT}
  from unnest($2::bigint[], $3::int[], $4::int[], $5::float8[], $6::float8[], $7::int[], $8::text[])
    as u(id, claim, attempts, first, last, status, error)
  ${FINISH_WHERE}`;

export const FINISH_DEAD = `update webhook_deliveries d
  set state = 'dead', finished_at = now(), dead_reason = u.reason, ${LAST_ATTEMPT}
  from unnest($2::bigint[], $3::int[], $4::int[], $5::float8[], $6::float8[], $7::int[], $8::text[],
    $9::text[]) as u(id, claim, attempts, first, last, status, error, reason)
  ${FINISH_WHERE}`;

/**
 * Parked again at the due time asked, or now when its subscription was disabled by its endpoint health
 * meanwhile: the runner dead-letters such a row at its next claim, not hours later.
 */
export const FINISH_RESCHEDULE = `update webhook_deliveries d
  set due_at = case when exists (select 1 from webhook_subscriptions s where s.id = d.subscription_id
        and not s.enabled and s.disabled_reason in ('gone', 'failing')) then now()
      else ${fromMs('u.due')} end,
    parked_reason = coalesce(u.reason, d.parked_reason), ${LAST_ATTEMPT}
  from unnest($2::bigint[], $3::int[], $4::int[], $5::float8[], $6::float8[], $7::int[], $8::text[],
    $9::float8[], $10::text[]) as u(id, claim, attempts, first, last, status, error, due, reason)
  ${FINISH_WHERE}`;

export const PRUNE_DELIVERIES = `with doomed as (
    select id from webhook_deliveries
    where state <> 'parked' and finished_at < now() - $1 * interval '1 millisecond'
    order by finished_at limit $2
  )
  delete from webhook_deliveries d using doomed where d.id = doomed.id returning d.event_ref`;

/**
 * Events no delivery references: those of the deliveries just deleted, and (a sweep) old ones whose
 * deliveries never got written (a redelivered record parked as another event row). Rows a park is
 * upserting right now are locked by it and skipped; a delete racing with a park that just committed is
 * refused by the FK check (23503), which reads a fresh snapshot.
 */
const ORPHAN = 'not exists (select 1 from webhook_deliveries d where d.event_ref = e.id)';
export const PRUNE_EVENTS_OF = `delete from webhook_events where id in (
    select e.id from webhook_events e where e.id = any($1::bigint[]) and ${ORPHAN} for update skip locked)`;
export const PRUNE_OLD_ORPHANS = `delete from webhook_events where id in (
    select e.id from webhook_events e
    where e.created_at < now() - $1 * interval '1 millisecond' and ${ORPHAN}
    limit $2 for update skip locked)`;

export const STATS = `select
    (select count(*) from webhook_deliveries where state = 'parked')::float8 as parked,
    (select count(*) from webhook_deliveries where state = 'delivered')::float8 as delivered,
    (select count(*) from webhook_deliveries where state = 'dead')::float8 as dead,
    count(*)::float8 as due_backlog,
    coalesce(extract(epoch from now() - min(d.due_at)), 0)::float8 as oldest_due_age
  from webhook_deliveries d left join webhook_subscriptions s on s.id = d.subscription_id
  where ${CLAIMABLE}`;

/** Lanes with a parked row among the partitions `unnest($1 topics, $2 partitions)`. */
export const PARKED_LANES = `select d.lane, min(d.seq)::text as head
  from webhook_deliveries d join webhook_events e on e.id = d.event_ref
  join unnest($1::text[], $2::int[]) as p(topic, partition)
    on p.topic = e.topic and p.partition = e.partition
  where d.state = 'parked' and d.lane is not null
  group by d.lane`;

/** An ordered lane's spilled rows held while its in-process deliveries ran: due now. */
export const RELEASE_SPILLED = `update webhook_deliveries set due_at = now()
  where lane = $1 and state = 'parked' and parked_reason = 'spill' and due_at > now()`;

export const LANE_HEAD = `select min(seq)::text as head from webhook_deliveries where lane = $1 and state = 'parked'`;
