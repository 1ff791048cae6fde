-- Three operations, operator controls and exactly-once bookkeeping.

-- Batches: the operator-visible lifecycle (see package upgrade) and how the
-- batch was imported.
alter table batches drop constraint batches_status_check;
alter table batches add constraint batches_status_check
    check (status in ('running', 'canary', 'paused', 'halted', 'cancelled', 'completed'));
alter table batches
    add column status_reason     text        not null default '',
    add column status_changed_at timestamptz not null default now(),
    add column dry_run           boolean     not null default false,
    add column canary_size       integer     not null default 0 check (canary_size >= 0);

-- Items: operation-specific inputs, the canary flag, the stuck flag, the
-- per-item lease that keeps two workers off one item, the write-ahead mark
-- of a create whose outcome is not known yet, and the target (offer or
-- catalog item) and type chosen from Partner Center's eligible ones.
alter table batch_items drop constraint batch_items_status_check;
alter table batch_items add constraint batch_items_status_check
    check (status in ('pending', 'eligible', 'ineligible', 'in_progress', 'completed', 'failed', 'cancelled'));
alter table batch_items
    add column subscription_id uuid,
    add column target_id       text        not null default '',
    add column options         jsonb       not null default '{}',
    add column canary          boolean     not null default false,
    add column stuck_at        timestamptz,
    add column lease_owner     text        not null default '',
    add column lease_until     timestamptz,
    add column create_unknown  boolean     not null default false,
    add column chosen_target   text        not null default '',
    add column chosen_type     text        not null default '';
alter table batch_items drop constraint batch_items_batch_id_customer_id_product_family_key;
create unique index batch_items_subject_idx on batch_items
    (batch_id, customer_id, product_family, coalesce(subscription_id, '00000000-0000-0000-0000-000000000000'::uuid));

-- History: which generation (attempt) and which worker made each change and
-- each call.
alter table item_events
    add column generation integer not null default 0,
    add column error_code text    not null default '',
    add column worker     text    not null default '';
alter table api_calls
    add column generation integer not null default 0,
    add column worker     text    not null default '';
create index api_calls_worker_idx on api_calls (worker);
create index item_events_created_idx on item_events (created_at);

-- Results are kept per generation, so a retried item keeps its earlier
-- attempts.
alter table upgrades add column generation integer not null default 0;
alter table upgrades drop constraint upgrades_pkey;
alter table upgrades add primary key (item_id, generation);
alter table line_items add column generation integer not null default 0;
alter table line_items drop constraint line_items_item_id_position_key;
alter table line_items add constraint line_items_item_generation_position_key unique (item_id, generation, position);

-- Details of subscription upgrades (upgrade errors, license errors) and of
-- transitions (events), in Partner Center's order.
create table item_details (
    id          bigint generated always as identity primary key,
    item_id     bigint      not null references batch_items (id) on delete cascade,
    generation  integer     not null,
    position    integer     not null,
    kind        text        not null check (kind in ('upgrade_error', 'license_error', 'event')),
    name        text        not null default '',
    status      text        not null default '',
    code        text        not null default '',
    message     text        not null default '',
    occurred_at timestamptz,
    unique (item_id, generation, position)
);

-- Holds: service-wide pauses, such as Partner Center refusing our
-- credentials. While a hold is active no job calls Partner Center.
create table holds (
    name       text        primary key,
    reason     text        not null,
    until      timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

---- create above / drop below ----

drop table holds;
drop table item_details;
alter table line_items drop constraint line_items_item_generation_position_key;
delete from line_items where generation > 0;
alter table line_items drop column generation;
alter table line_items add constraint line_items_item_id_position_key unique (item_id, position);
alter table upgrades drop constraint upgrades_pkey;
delete from upgrades where generation > 0;
alter table upgrades drop column generation;
alter table upgrades add primary key (item_id);
drop index item_events_created_idx;
drop index api_calls_worker_idx;
alter table api_calls drop column generation, drop column worker;
alter table item_events drop column generation, drop column error_code, drop column worker;
drop index batch_items_subject_idx;
alter table batch_items add constraint batch_items_batch_id_customer_id_product_family_key unique (batch_id, customer_id, product_family);
alter table batch_items
    drop column subscription_id, drop column target_id, drop column options, drop column canary,
    drop column stuck_at, drop column lease_owner, drop column lease_until, drop column create_unknown,
    drop column chosen_target, drop column chosen_type;
alter table batch_items drop constraint batch_items_status_check;
update batch_items set status = 'failed' where status = 'eligible';
alter table batch_items add constraint batch_items_status_check
    check (status in ('pending', 'ineligible', 'in_progress', 'completed', 'failed', 'cancelled'));
alter table batches drop column status_reason, drop column status_changed_at, drop column dry_run, drop column canary_size;
alter table batches drop constraint batches_status_check;
update batches set status = 'running' where status not in ('running', 'completed');
alter table batches add constraint batches_status_check check (status in ('running', 'completed'));
