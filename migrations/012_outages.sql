-- Outages: a streak of transient failures (5xx, 408, timeouts, resets, a
-- token endpoint that throttles or fails) per endpoint family, shared by
-- every replica. Any answer from the family ends its streak. A streak that
-- reaches workers' outage.after_failures places the hold 'outage:<family>'
-- (holds.probes counts the probe calls sent since), under which one probe
-- call at a time goes out, with backoff, until one is answered.
create table outage_streaks (
    family     text        primary key,
    failures   integer     not null default 0,
    since      timestamptz,
    last_error text        not null default '',
    updated_at timestamptz not null default now()
);

alter table holds add column probes integer not null default 0;

---- create above / drop below ----

alter table holds drop column probes;
drop table outage_streaks;
