-- Reserved: this number carries no schema change of its own. Migrations are
-- applied in an unbroken sequence, and this one keeps the sequence whole
-- until the change planned under this number lands and replaces this file.
select 1;

---- create above / drop below ----

select 1;
