-- Demo subscriptions for docker-compose.yml: global (every project) subscriptions to the events Tiledesk
-- emits most, all pointing at the demo receiver. The secret is the one the demo receiver verifies with.
-- Idempotent: the unique (id_project, event, target) key makes a second run a no-op.
insert into webhook_subscriptions (id_project, event, target, secret, global, enabled, created_by)
select 'demo', event, 'http://demo-receiver:8080/hooks', 'whsec_ZGVtby1zZWNyZXQtZm9yLWNvbXBvc2Utb25seQ==', true, true, 'docker-compose'
from unnest(array[
  'request.create',
  'request.update',
  'request.close',
  'message.create',
  'lead.create',
  'project_user.update'
]) as event
on conflict (id_project, event, target) do nothing;
