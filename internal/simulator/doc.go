// Package simulator is a built-in Partner Center simulator: an in-memory
// http.Handler that speaks the Partner Center REST API for product upgrades
// (legacy Azure subscriptions to the Azure plan) and the Azure AD token
// endpoints that issue its bearer tokens. Operators rehearse against it,
// `make demo` runs on it, and the client's tests use it as the other side of
// the contract, so it follows the wire reference closely:
//
//   - Routes are matched case-insensitively; request JSON keys are matched
//     case-insensitively (camelCase or PascalCase); responses are camelCase.
//   - Every Partner Center response echoes MS-RequestId and MS-CorrelationId
//     (generated when absent) and sets MS-CV and MS-ServerId.
//   - Errors use the standard body {"code","description","data","source"}
//     with the documented codes; token errors use the Azure AD shape.
//   - Product-upgrade endpoints need an app+user token: no or unknown or
//     expired token gives 401 with WWW-Authenticate: Bearer
//     error="invalid_token", an app-only token 403/900329.
//   - A repeated MS-RequestId replays the stored response (idempotency.go).
//
// What happens to a customer is a pure function of Options.Seed and the
// customer id (Simulator.Predict), so tests and the demo can state the
// expected result of a run before it starts. Upgrade progress is derived
// from the clock (Options.Now) whenever it is asked for; nothing runs in
// the background.
//
// It also serves legacy subscription upgrades and new-commerce transitions
// (subscriptions.go), injects faults (faults.go: rate limits, 5xx,
// connection resets, truncated bodies, latency, token outages), loads
// scenario files (scenario.go) and runs its lifecycles on a clock that can
// be sped up (Options.ClockSpeedup). docs/simulator.md describes it all.
//
// Ground truth for assertions: Upgrades, CreatedCount,
// SubscriptionUpgradeCount, TransitionCount, Requests, RefreshRotations
// and Stats (also served at GET /_sim/stats). Predictions of subscription
// upgrades and transitions: PredictSubscriptionUpgrade and
// PredictTransition.
//
// Files: options.go (configuration), predict.go (outcomes),
// predict_subscriptions.go (subscription outcomes and counts), route.go
// (routing), simulator.go (request pipeline and ground truth), auth.go
// (bearer tokens), token.go (Azure AD), idempotency.go (MS-RequestId),
// productupgrade.go (product upgrades), errors.go (error bodies),
// server.go (logging and serving).
package simulator
