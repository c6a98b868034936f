-- The delivery log, cheaper to write (bench/README.md "Delivery log").
--
-- Event rows stop storing the payload twice. A JSON record written compactly holds the payload's bytes as
-- a slice of its value; the row then keeps where (payload_at: byte offset from 0, payload_len: length) and
-- payload is null. Readers take
--   coalesce(payload, substring(record_value from payload_at + 1 for payload_len))
-- (MESSAGE_PAYLOAD in src/api/store/log-sql.ts): the same bytes, about 1 KiB less per event to send,
-- write, compress and keep. Rows written before this keep their payload.
--
-- Keys written from now on (src/delivery-log/message-key.ts) start with the record timestamp, so new keys
-- are inserted at the right edge of webhook_log_messages_key_idx instead of on a random page; older rows
-- keep their md5 keys, which still join their own attempts.
alter table webhook_log_messages
  alter column payload drop not null,
  add column payload_at int null,
  add column payload_len int null,
  add constraint webhook_log_messages_payload_check check (
    payload is not null or (payload_at >= 0 and payload_len > 0 and record_value is not null));

-- A delivery's attempts are found by webhook-id with equality only (its attempts, the latest-attempt
-- probe): a hash index serves that, and inserting into it costs less than into a btree keyed by random
-- text, whose pages are spread over an index that grows all day.
drop index webhook_log_attempts_webhook_id_idx;
create index webhook_log_attempts_webhook_id_idx on webhook_log_attempts using hash (webhook_id);
