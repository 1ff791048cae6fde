-- Items are queued by a dispatcher instead of all at import, so a batch of a
-- million rows is written with COPY alone and the queue holds only the work
-- that can run soon.
--
-- queued: the item has (or had) a start job; the dispatcher picks pending
-- items that are not queued, in file order.
alter table batch_items add column queued boolean not null default false;
update batch_items set queued = true;
create index batch_items_dispatch_idx on batch_items (batch_id, line_number)
    where status = 'pending' and not queued;
-- Dispatched items still waiting for their start job: the queue depth.
create index batch_items_queued_idx on batch_items (batch_id)
    where status = 'pending' and queued;

-- Duplicate rows are found by the importer with one query after COPY (it
-- names both lines); a unique index would abort the COPY at the first one.
drop index batch_items_subject_idx;

---- create above / drop below ----

create unique index batch_items_subject_idx on batch_items
    (batch_id, customer_id, product_family, coalesce(subscription_id, '00000000-0000-0000-0000-000000000000'::uuid));
drop index batch_items_queued_idx;
drop index batch_items_dispatch_idx;
alter table batch_items drop column queued;
