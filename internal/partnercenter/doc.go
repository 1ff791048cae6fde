// Package partnercenter is a client for the parts of the Microsoft Partner
// Center REST API that move CSP customers off legacy offers: product upgrades
// from legacy Azure subscriptions to the Azure plan ([Client.ProductUpgrades]),
// upgrades of traditional license-based subscriptions
// ([Client.SubscriptionUpgrades]) and subscription transitions
// ([Client.Transitions]).
//
// The shape follows google/go-github: one [Client] owns the HTTP client and
// the base URL, and each group of endpoints is a service reached through a
// field of the client, such as [Client.ProductUpgrades]. Every endpoint
// method takes a [Call] carrying the MS-RequestId, MS-CorrelationId and
// MS-CV headers to send, and returns a [*Response] describing the exchange, so
// callers can record one row per HTTP request whatever its outcome.
//
// Authentication is not the client's job: build the *http.Client with
// [NewHTTPClient] (golang.org/x/oauth2) and pass it to [NewClient]. The
// product-upgrade endpoints need app+user credentials ([RequiresUserToken],
// [Credentials.AppOnly]); a [RefreshTokenStore] shares a rotating refresh
// token between replicas. A token endpoint's refusal is a [*TokenError].
//
// Status codes become errors in exactly one place. A non-2xx answer is an
// [*Error] (or a [*RateLimitError] for 429, which wraps one); a request that
// got no answer at all is a [*TransportError]. Callers classify failures
// with [IsRetryable], [IsRateLimited], [IsTerminal], [IsConflict], [IsAuth]
// and [ErrorCode] rather than by reading status codes themselves.
//
// Responses are decoded leniently (unknown fields and attributes ignored,
// keys in any case, enums and codes given as numbers or as snake_case or
// PascalCase strings, statuses trimmed and compared case-insensitively,
// timestamps with seven fractional digits or no zone, lists in the "items"
// envelope or not), and requests are sent as camelCase JSON.
package partnercenter
