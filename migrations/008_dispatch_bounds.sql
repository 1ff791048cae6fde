-- The dispatcher walks a batch's items in id order from its cursor. Without
-- an end, a batch whose items are all dispatched was walked on every run
-- through the rows of every later batch. last_item_id is the batch's last
-- item, last_canary_id its last canary item (0: none); both are set by the
-- import.
alter table batches
    add column last_item_id   bigint not null default 0,
    add column last_canary_id bigint not null default 0;
update batches b set
    last_item_id   = coalesce((select max(id) from batch_items i where i.batch_id = b.id), 0),
    last_canary_id = coalesce((select max(id) from batch_items i where i.batch_id = b.id and i.canary), 0);

---- create above / drop below ----

alter table batches drop column last_canary_id, drop column last_item_id;
