// Package jobs holds the River jobs that move batch items through Partner
// Center, one file per operation:
//
//   - product upgrades (product_upgrade.go): create_upgrade checks
//     eligibility and creates the upgrade (or adopts one that exists), then
//     poll_upgrade_status follows it and records its line items;
//   - subscription upgrades (subscription_upgrade.go):
//     perform_subscription_upgrade lists the eligible upgrades, picks the
//     target and performs it, recording the UpgradeResult's errors;
//   - transitions (transition.go): create_transition looks for an existing
//     transition, checks eligibilities and creates one, then
//     poll_transition follows its events to a final state;
//   - reconcile (reconcile.go): periodic, on the leader only; re-queues
//     items whose job vanished or stalled and rolls batch statuses up.
//
// Every job starts with claim (claim.go): the item must be in the status the
// job expects, its batch must let it run, no service-wide hold may be in
// force, and the job must win the item's lease. Every item change goes
// through store.TransitionItem (the state machine), every Partner Center
// request is recorded in api_calls, and errors map to River outcomes in one
// place (policy.go).
package jobs
