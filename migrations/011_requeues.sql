-- Poison work ends. Reconcile re-queues an item whose job vanished (discarded
-- after its attempts, a panic, cancelled or deleted in River). requeues counts
-- those re-queues for generation requeues_generation; a new generation (an
-- operator retry) starts again from zero without anyone resetting it. Past
-- reconcile.max_requeues the item fails with internal_error instead.
alter table batch_items
    add column requeues            integer not null default 0,
    add column requeues_generation integer not null default 0;

-- Reconcile looks for items at the bound among the few ever re-queued.
create index batch_items_requeued_idx on batch_items (id) where requeues > 0;

-- A failure the service gave up on (attempts spent on errors that are not
-- Partner Center's answer about the item, a job that kept vanishing) rather
-- than one Partner Center reported. The automatic halt does not count it.
alter table item_events add column gave_up boolean not null default false;

---- create above / drop below ----

alter table item_events drop column gave_up;
drop index batch_items_requeued_idx;
alter table batch_items drop column requeues_generation, drop column requeues;
