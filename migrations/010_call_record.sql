-- The record of each Partner Center call and status change is complete
-- enough for a support ticket: the MS-CV Partner Center returned (and the
-- one sent, for calls that got no answer), the error message next to the
-- error code, and the message of a status change (such as the reason a
-- customer is not eligible).
alter table api_calls
    add column ms_cv         text not null default '',
    add column request_cv    text not null default '',
    add column error_message text not null default '';
alter table item_events
    add column error_message text not null default '';

---- create above / drop below ----

alter table item_events drop column error_message;
alter table api_calls drop column error_message, drop column request_cv, drop column ms_cv;
