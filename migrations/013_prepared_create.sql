-- The create request an item's attempt prepared (the subscription upgrade
-- or transition body, as sent), with the generation and create sequence
-- (the MS-RequestId) it belongs to. A repeat after an unknown outcome sends
-- these exact bytes under the same MS-RequestId, so Partner Center
-- recognises the request; a job resumed after a 429 or a snooze sends it
-- without reading the eligibilities again. It is void once the sequence or
-- the generation moves on.
alter table batch_items
    add column create_body            bytea,
    add column create_body_generation integer,
    add column create_body_seq        integer;

---- create above / drop below ----

alter table batch_items
    drop column create_body, drop column create_body_generation, drop column create_body_seq;
