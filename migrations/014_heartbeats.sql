-- Processes: one row per `serve` process, named by the same id as its item
-- leases and its River client. A process beats (beat_at = now()) every few
-- seconds; one that has not beaten for workers.dead_after is declared dead
-- by whichever live process notices first (dead_at, declared_by), which in
-- the same transaction hands the River jobs it was running back to the
-- queue and releases its item leases. A process that finds its own row
-- declared dead stops working. A process that stops cleanly sets
-- stopped_at.
create table processes (
    id          text        primary key,
    host        text        not null default '',
    pid         integer     not null default 0,
    started_at  timestamptz not null default now(),
    beat_at     timestamptz not null default now(),
    stopped_at  timestamptz,
    dead_at     timestamptz,
    declared_by text        not null default '',
    jobs_handed_back integer not null default 0
);

create index processes_live_idx on processes (beat_at) where dead_at is null and stopped_at is null;

-- lease_epoch is the item lease's fencing token: it grows by one every time
-- the lease is granted, and every fenced write and every Partner Center call
-- of a job is allowed only while the item still carries the owner and epoch
-- the job's claim got.
alter table batch_items add column lease_epoch bigint not null default 0;

---- create above / drop below ----

alter table batch_items drop column lease_epoch;
drop table processes;
