-- Make writing a million items cheap: every index and constraint on
-- batch_items is paid for on every imported row.
--
-- The batch foreign key's per-row check cost more than the COPY itself.
-- Items are only ever written by the import, in the same transaction as
-- their batch, and batches are never deleted by the service.
alter table batch_items drop constraint batch_items_batch_id_fkey;

-- Items of one batch are written together, so they sit together on disk:
-- a BRIN index finds them for a fraction of a b-tree's upkeep.
drop index batch_items_batch_status_idx;
create index batch_items_batch_brin on batch_items using brin (batch_id);

-- Only items in progress are looked up by age (reconcile, status); new
-- pending items no longer enter this index.
drop index batch_items_open_idx;
create index batch_items_in_progress_idx on batch_items (batch_id, status_changed_at)
    where status = 'in_progress';

-- The dispatcher walks each batch in id order (ids follow the file order of
-- the COPY) from a cursor instead of through an index of pending items.
drop index batch_items_dispatch_idx;
alter table batches add column dispatch_cursor bigint not null default 0;

---- create above / drop below ----

alter table batches drop column dispatch_cursor;
create index batch_items_dispatch_idx on batch_items (batch_id, line_number)
    where status = 'pending' and not queued;
drop index batch_items_in_progress_idx;
create index batch_items_open_idx on batch_items (status, status_changed_at)
    where status in ('pending', 'in_progress');
drop index batch_items_batch_brin;
create index batch_items_batch_status_idx on batch_items (batch_id, status);
alter table batch_items add constraint batch_items_batch_id_fkey
    foreign key (batch_id) references batches (id) on delete cascade;
