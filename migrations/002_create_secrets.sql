-- Secrets the service must keep across restarts and share between replicas,
-- such as Partner Center's rotating refresh token. Values are encrypted by
-- the service (AES-256-GCM) before they reach the database.
create table secrets (
    name       text        primary key,
    ciphertext bytea       not null,
    updated_at timestamptz not null default now()
);

---- create above / drop below ----

drop table secrets;
