-- Partner Center's rate budget, shared by every replica: one token bucket per
-- limit (and per customer where Partner Center throttles per partner and
-- customer). A 429 pauses the bucket for Retry-After for everyone.
create table rate_buckets (
    key            text             primary key,
    capacity       double precision not null,
    refill_per_sec double precision not null,
    tokens         double precision not null,
    updated_at     timestamptz      not null,
    paused_until   timestamptz      not null default '-infinity',
    taken          bigint           not null default 0,
    throttled      bigint           not null default 0
);

-- rate_take takes one token from bucket p_key (created full on first use),
-- keeping p_reserve tokens back (polls leave the last tokens to creates),
-- and returns 0, or how many seconds until a token will be there (or the
-- pause ends). Capacity and refill follow the caller's configuration.
create function rate_take(p_key text, p_capacity double precision, p_refill double precision, p_reserve double precision)
returns double precision language plpgsql as $$
declare
    b     rate_buckets;
    t     timestamptz;
    avail double precision;
begin
    insert into rate_buckets (key, capacity, refill_per_sec, tokens, updated_at)
    values (p_key, p_capacity, p_refill, p_capacity, clock_timestamp())
    on conflict (key) do nothing;
    select * into b from rate_buckets where key = p_key for update;
    -- The time is read once the row is locked: a caller that waited for the
    -- lock must not refill from before the previous caller's update.
    t := clock_timestamp();
    avail := least(p_capacity, b.tokens + greatest(extract(epoch from t - b.updated_at), 0) * p_refill);
    if b.paused_until > t then
        update rate_buckets set tokens = avail, updated_at = t, capacity = p_capacity, refill_per_sec = p_refill
        where key = p_key;
        return extract(epoch from b.paused_until - t);
    end if;
    if avail >= 1 + p_reserve then
        update rate_buckets set tokens = avail - 1, updated_at = t, capacity = p_capacity, refill_per_sec = p_refill,
            taken = taken + 1
        where key = p_key;
        return 0;
    end if;
    update rate_buckets set tokens = avail, updated_at = t, capacity = p_capacity, refill_per_sec = p_refill
    where key = p_key;
    return (1 + p_reserve - avail) / p_refill;
end $$;

-- rate_pause empties bucket p_key and pauses it for p_seconds (a 429's
-- Retry-After), never shortening a pause already in force.
create function rate_pause(p_key text, p_seconds double precision)
returns void language sql as $$
    insert into rate_buckets as b (key, capacity, refill_per_sec, tokens, updated_at, paused_until, throttled)
    values (p_key, 1, 1, 0, clock_timestamp(), clock_timestamp() + make_interval(secs => p_seconds), 1)
    on conflict (key) do update
    set paused_until = greatest(b.paused_until, excluded.paused_until),
        tokens = least(b.tokens, 0), updated_at = clock_timestamp(), throttled = b.throttled + 1;
$$;

-- Recently finished work, to learn how long Partner Center takes.
create index upgrades_finished_idx on upgrades (finished_at desc) where finished_at is not null;

---- create above / drop below ----

drop index upgrades_finished_idx;
drop function rate_pause(text, double precision);
drop function rate_take(text, double precision, double precision, double precision);
drop table rate_buckets;
