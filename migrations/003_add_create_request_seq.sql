-- The sequence number in an item's create MS-RequestId. It stays the same
-- when a create is retried after a timeout, a 5xx or a transport error (so
-- Partner Center can recognise the repeat) and advances after any definite
-- answer, which must not be replayed.
alter table batch_items add column create_request_seq integer not null default 0;

---- create above / drop below ----

alter table batch_items drop column create_request_seq;
