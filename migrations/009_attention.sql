-- Partial results. An item Partner Center completed only in part (a failed
-- line item, user license faults, a transition event that failed after the
-- conversion, a top-level errorDetails) stays completed and is flagged for
-- attention; its error_code and error_message say why, in the item's own
-- words, while each line item and detail keeps its own error. An item whose
-- work reports a status value the service does not know is flagged too (and
-- stuck) after a bounded number of polls.
alter table batch_items add column attention boolean not null default false;
create index batch_items_attention_idx on batch_items (batch_id) where attention;

-- All of an error as Partner Center sent it: a license fault's user name and
-- e-mail and the fault's source; an upgrade error's additionalDetails.
alter table item_details
    add column user_name          text not null default '',
    add column email              text not null default '',
    add column source             text not null default '',
    add column additional_details text not null default '';

-- Polls of an item's work that found a status value the service does not know.
alter table upgrades add column unknown_polls integer not null default 0;

---- create above / drop below ----

alter table upgrades drop column unknown_polls;
alter table item_details drop column additional_details, drop column source, drop column email, drop column user_name;
drop index batch_items_attention_idx;
alter table batch_items drop column attention;
