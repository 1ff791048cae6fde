-- Reserved for a schema change that arrives separately. The migrator needs
-- contiguous numbers, so this file holds the place and changes nothing.
select 1;

---- create above / drop below ----

select 1;
