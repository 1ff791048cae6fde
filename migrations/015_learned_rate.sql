-- A governor that learns Partner Center's real limits. Each limit has one
-- row in rate_buckets keyed by the limit's name (for a partner-wide limit it
-- is the limit's bucket; for a per-customer limit it holds only what is
-- learned, the customers' buckets being "<limit>/<customer>"):
--   configured_per_sec  the configured rate, calls per second (before headroom);
--   learned_per_sec     the rate every replica's buckets of the limit refill
--                       at (times headroom), never above configured_per_sec;
--   learned_at          when it last changed (after a decrease: when the
--                       429's pause ends), so increases are spaced out;
--   lowered             how many 429s lowered it.
-- A 429 answering a call that had taken a token (its bucket not paused by
-- an earlier 429) multiplies the learned rate by p_decrease (not below
-- p_floor); every p_interval seconds of calls taken without a 429 while the
-- bucket runs low adds p_step, up to the configured rate. The functions of
-- 007 stay for replicas not yet upgraded.
alter table rate_buckets
    add column configured_per_sec double precision,
    add column learned_per_sec    double precision,
    add column learned_at         timestamptz,
    add column lowered            bigint not null default 0;

-- The limits' rows, for status and metrics (one a limit, among possibly
-- many per-customer buckets).
create index rate_buckets_learned_idx on rate_buckets (key) where learned_per_sec is not null;

-- rate_limit_row makes sure limit p_limit has its row.
create function rate_limit_row(p_limit text, p_configured double precision, p_period double precision, p_headroom double precision)
returns void language sql as $$
    insert into rate_buckets (key, capacity, refill_per_sec, tokens, updated_at, configured_per_sec, learned_per_sec, learned_at)
    values (p_limit, p_configured * p_period * p_headroom, p_configured * p_headroom, p_configured * p_period * p_headroom,
            clock_timestamp(), p_configured, p_configured, clock_timestamp())
    on conflict (key) do nothing;
$$;

-- rate_take_learned takes one token from bucket p_key of limit p_limit
-- (p_key = p_limit for a partner-wide limit), keeping p_reserve of the
-- burst back, and returns 0, or how many seconds until a token will be
-- there (or the pause ends). The burst is p_period seconds of the learned
-- rate, both times p_headroom.
create function rate_take_learned(p_key text, p_limit text, p_configured double precision, p_period double precision,
    p_headroom double precision, p_reserve double precision, p_step double precision, p_interval double precision)
returns double precision language plpgsql as $$
declare
    b       rate_buckets;
    l       rate_buckets;
    t       timestamptz;
    learned double precision;
    cap     double precision;
    refill  double precision;
    keep    double precision;
    avail   double precision;
begin
    perform rate_limit_row(p_limit, p_configured, p_period, p_headroom);
    if p_key = p_limit then
        select * into b from rate_buckets where key = p_key for update;
        l := b;
    else
        -- Read without a lock: the limit's row is locked only to change
        -- it, always after a bucket's row, so locks are taken in one order.
        select * into l from rate_buckets where key = p_limit;
        learned := least(coalesce(l.learned_per_sec, p_configured), p_configured);
        insert into rate_buckets (key, capacity, refill_per_sec, tokens, updated_at)
        values (p_key, learned * p_period * p_headroom, learned * p_headroom, learned * p_period * p_headroom, clock_timestamp())
        on conflict (key) do nothing;
        select * into b from rate_buckets where key = p_key for update;
    end if;
    -- The time is read once the row is locked: a caller that waited for the
    -- lock must not refill from before the previous caller's update.
    t := clock_timestamp();
    learned := least(coalesce(l.learned_per_sec, p_configured), p_configured);
    cap := learned * p_period * p_headroom;
    refill := learned * p_headroom;
    keep := p_reserve * cap;
    avail := least(cap, b.tokens + greatest(extract(epoch from t - b.updated_at), 0) * refill);
    if b.paused_until > t then
        update rate_buckets set tokens = avail, updated_at = t, capacity = cap, refill_per_sec = refill
        where key = p_key;
        return extract(epoch from b.paused_until - t);
    end if;
    if avail < 1 + keep then
        update rate_buckets set tokens = avail, updated_at = t, capacity = cap, refill_per_sec = refill
        where key = p_key;
        return (1 + keep - avail) / refill;
    end if;
    update rate_buckets set tokens = avail - 1, updated_at = t, capacity = cap, refill_per_sec = refill,
        taken = taken + 1
    where key = p_key;
    -- Additive increase: an interval has passed since the last change with
    -- no 429, and the bucket is running low (the calls are using the rate,
    -- so their success says something about it). One replica wins.
    if learned < p_configured and avail - 1 < cap / 2
       and t >= coalesce(l.learned_at, '-infinity') + make_interval(secs => p_interval) then
        update rate_buckets
        set learned_per_sec = least(p_configured, learned + p_step), learned_at = t, configured_per_sec = p_configured
        where key = p_limit and learned_at is not distinct from l.learned_at;
    elsif l.configured_per_sec is distinct from p_configured or l.learned_per_sec is null then
        update rate_buckets
        set configured_per_sec = p_configured, learned_per_sec = least(coalesce(learned_per_sec, p_configured), p_configured),
            learned_at = coalesce(learned_at, t)
        where key = p_limit;
    end if;
    return 0;
end $$;

-- rate_throttle records a 429 on bucket p_key of limit p_limit: the bucket
-- is emptied and paused for p_seconds (Retry-After) for every replica,
-- never shortening a pause in force. When the bucket had budget (it has
-- given tokens and no earlier 429 paused it: the throttled call went out
-- on a token) the limit's learned rate is multiplied by p_decrease, not
-- below p_floor; it returns whether it was.
create function rate_throttle(p_key text, p_limit text, p_seconds double precision, p_configured double precision,
    p_period double precision, p_headroom double precision, p_decrease double precision, p_floor double precision)
returns boolean language plpgsql as $$
declare
    b       rate_buckets;
    l       rate_buckets;
    t       timestamptz;
    learned double precision;
    did_lower boolean := false;
begin
    perform rate_limit_row(p_limit, p_configured, p_period, p_headroom);
    insert into rate_buckets (key, capacity, refill_per_sec, tokens, updated_at)
    values (p_key, 1, 1, 0, clock_timestamp())
    on conflict (key) do nothing;
    select * into b from rate_buckets where key = p_key for update;
    t := clock_timestamp();
    if b.taken > 0 and b.paused_until <= t then
        if p_key = p_limit then
            l := b;
        else
            select * into l from rate_buckets where key = p_limit for update;
        end if;
        learned := least(coalesce(l.learned_per_sec, p_configured), p_configured);
        update rate_buckets
        set learned_per_sec = greatest(least(p_floor, p_configured), learned * p_decrease),
            learned_at = t + make_interval(secs => p_seconds), configured_per_sec = p_configured, lowered = lowered + 1
        where key = p_limit;
        did_lower := true;
    end if;
    update rate_buckets
    set paused_until = greatest(paused_until, t + make_interval(secs => p_seconds)),
        tokens = least(tokens, 0), updated_at = t, throttled = throttled + 1
    where key = p_key;
    return did_lower;
end $$;

---- create above / drop below ----

drop function rate_throttle(text, text, double precision, double precision, double precision, double precision, double precision, double precision);
drop function rate_take_learned(text, text, double precision, double precision, double precision, double precision, double precision, double precision);
drop function rate_limit_row(text, double precision, double precision, double precision);
drop index rate_buckets_learned_idx;
alter table rate_buckets
    drop column lowered,
    drop column learned_at,
    drop column learned_per_sec,
    drop column configured_per_sec;
