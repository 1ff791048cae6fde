-- Batches: one bulk migration fed in as a CSV file.
create table batches (
    id             bigint generated always as identity primary key,
    name           text        not null unique,
    operation      text        not null default 'product_upgrade',
    correlation_id uuid        not null,
    status         text        not null default 'running'
                   check (status in ('running', 'completed')),
    item_count     integer     not null check (item_count >= 0),
    source_file    text        not null default '',
    created_at     timestamptz not null default now(),
    completed_at   timestamptz
);

-- Batch items: one row per CSV row, written before any Partner Center call.
-- This is the durable ledger every job reads and writes.
create table batch_items (
    id                bigint generated always as identity primary key,
    batch_id          bigint      not null references batches (id) on delete cascade,
    line_number       integer     not null,
    customer_id       uuid        not null,
    product_family    text        not null,
    status            text        not null default 'pending'
                      check (status in ('pending', 'ineligible', 'in_progress', 'completed', 'failed', 'cancelled')),
    generation        integer     not null default 0,
    error_code        text        not null default '',
    error_message     text        not null default '',
    created_at        timestamptz not null default now(),
    status_changed_at timestamptz not null default now(),
    unique (batch_id, customer_id, product_family)
);

create index batch_items_batch_status_idx on batch_items (batch_id, status);
create index batch_items_open_idx on batch_items (status, status_changed_at)
    where status in ('pending', 'in_progress');

-- Item events: every status change of an item, so its history can be shown.
create table item_events (
    id          bigint generated always as identity primary key,
    item_id     bigint      not null references batch_items (id) on delete cascade,
    from_status text        not null,
    to_status   text        not null,
    reason      text        not null default '',
    created_at  timestamptz not null default now()
);

create index item_events_item_idx on item_events (item_id, id);

-- Upgrades: the Partner Center product upgrade adopted by an item.
create table upgrades (
    item_id        bigint      primary key references batch_items (id) on delete cascade,
    upgrade_id     text        not null,
    status         text        not null default '',
    poll_count     integer     not null default 0,
    created_at     timestamptz not null default now(),
    last_polled_at timestamptz,
    finished_at    timestamptz
);

create index upgrades_upgrade_id_idx on upgrades (upgrade_id);

-- Line items: one per legacy subscription moved by an upgrade.
create table line_items (
    id                  bigint generated always as identity primary key,
    item_id             bigint      not null references batch_items (id) on delete cascade,
    position            integer     not null,
    source_product_id   text        not null default '',
    source_product_name text        not null default '',
    target_product_id   text        not null default '',
    target_product_name text        not null default '',
    status              text        not null default '',
    upgraded_date       timestamptz,
    error_code          text        not null default '',
    error_message       text        not null default '',
    unique (item_id, position)
);

-- API calls: one row per Partner Center request, answered or not.
create table api_calls (
    id                bigint generated always as identity primary key,
    batch_id          bigint           references batches (id) on delete cascade,
    item_id           bigint           references batch_items (id) on delete cascade,
    operation         text             not null,
    http_status       integer          not null default 0,
    request_id        text             not null default '',
    correlation_id    text             not null default '',
    server_request_id text             not null default '',
    duration_seconds  double precision not null default 0,
    error_code        text             not null default '',
    created_at        timestamptz      not null default now()
);

create index api_calls_item_idx on api_calls (item_id, id);

---- create above / drop below ----

drop table api_calls;
drop table line_items;
drop table upgrades;
drop table item_events;
drop table batch_items;
drop table batches;
