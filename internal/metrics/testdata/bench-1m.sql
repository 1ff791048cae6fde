-- 1,000,000 items for BenchmarkScrape: 30 finished batches of 30,000 items
-- and the 20 active batches the gauges cover (running, 5,000 items each),
-- one line item per item Partner Center has worked on (850,000), and 300,000
-- River jobs (most completed, as River keeps them for a day).
insert into batches (name, operation, correlation_id, status, item_count)
select 'bench-' || g, 'product_upgrade', gen_random_uuid(),
       case when g <= 30 then 'completed' else 'running' end,
       case when g <= 30 then 30000 else 5000 end
from generate_series(1, 50) g;

insert into batch_items (batch_id, line_number, customer_id, product_family, status, stuck_at)
select b.id, g, gen_random_uuid(), 'azure',
       case when g % 20 < 12 then 'completed'
            when g % 20 < 14 then 'failed'
            when g % 20 = 14 then 'ineligible'
            when g % 20 < 18 then 'in_progress'
            else 'pending' end,
       case when g % 1000 = 15 then now() - interval '80 hours' end
from batches b, generate_series(1, b.item_count) g;

insert into line_items (item_id, position, status)
select id, 0, case status when 'completed' then 'Completed' when 'failed' then 'Failed' else 'InProgress' end
from batch_items where status in ('completed', 'failed', 'in_progress');

insert into river_job (kind, args, state, scheduled_at, finalized_at, max_attempts, attempt)
select case when g % 3 = 0 then 'create_upgrade' else 'poll_upgrade_status' end, '{}',
       (case when g % 100 < 95 then 'completed'
             when g % 100 < 98 then 'scheduled'
             when g % 100 = 98 then 'available'
             else 'retryable' end)::river_job_state,
       now() - (g % 600) * interval '1 second',
       case when g % 100 < 95 then now() end,
       25, case when g % 100 < 95 then 1 else 0 end
from generate_series(1, 300000) g;


