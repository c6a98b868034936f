-- The delivery log's attempts keep one btree instead of two (bench/README.md "Delivery log").
--
-- webhook_log_attempts_project_idx (id_project, attempted_at desc) and
-- webhook_log_attempts_subscription_idx (subscription_id, attempted_at desc) took one insert each per
-- attempt, each at a point of its own among the day's projects and subscriptions: the two cost a writer's
-- backend about as much as the attempt row and its event row together, and more as the day's partition
-- grew past shared_buffers (measured by COPY of 200,000-row files of 1,000 projects on a scratch database,
-- PG 15: 9.0-11.9 µs of backend CPU per logged delivery with both, 6.6-7.6 µs with the one below).
--
-- (id_project, subscription_id, attempted_at) serves both readers: a subscription's deliveries walk its
-- range backwards, newest first; a project's history (Tiledesk's `?page=N`) takes each of the project's
-- subscriptions in turn from the same index and merges their newest attempts (pg-delivery-log-reader.ts).
-- Ascending time puts each subscription's new entries at the end of its range, where nbtree splits a full
-- page leaving the old entries packed, instead of half empty pages.
--
-- On a log of many days this migration holds off the writers while it builds the new index (Postgres 15
-- cannot build one concurrently on a partitioned table): deliveries go on, and the writers' queues hold
-- DELIVERY_LOG_MAX_PENDING attempts before they drop and count them.
create index webhook_log_attempts_subscription_time_idx
  on webhook_log_attempts (id_project, subscription_id, attempted_at);
drop index webhook_log_attempts_project_idx;
drop index webhook_log_attempts_subscription_idx;
