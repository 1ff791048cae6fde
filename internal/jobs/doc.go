// Package jobs holds the River jobs that move batch items through Partner
// Center, one file per job kind:
//
//   - create_upgrade: checks a customer's eligibility and creates its product
//     upgrade (or adopts one that already exists), then queues polling;
//   - poll_upgrade_status: asks for the upgrade's status, snoozing with
//     backoff until it is final, and records its line items;
//   - reconcile: periodic, on the leader only; re-queues items whose job
//     vanished or stalled and marks finished batches completed.
//
// Every item change goes through store.TransitionItem (the state machine),
// every Partner Center request is recorded in api_calls, and errors map to
// River outcomes in one place (policy.go).
package jobs
