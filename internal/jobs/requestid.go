package jobs

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// requestIDSpace is the UUID namespace of deterministic MS-RequestIds.
const requestIDSpace = "5c0f3d2e-8a4b-4f8e-9a63-2f1d7b0c9e41"

// createRequestID is the MS-RequestId of an item's create call (a product
// upgrade, a subscription upgrade or a transition). It depends only on the
// operation, the item, its generation and its create sequence, so a job
// retried after a timeout, a 5xx, a transport error or a crash repeats the
// same request and Partner Center can recognise it; after a definite answer
// the sequence advances and the next create is a new request. Product
// upgrades keep their original name for compatibility with requests already
// sent.
func createRequestID(it store.Item) string {
	name := "product_upgrade_create"
	if it.Operation != "" && it.Operation != "product_upgrade" {
		name = string(it.Operation) + "_create"
	}
	return uuid.NewSHA1(uuid.MustParse(requestIDSpace),
		fmt.Appendf(nil, "%s/%d/%d/%d", name, it.ID, it.Generation, it.CreateRequestSeq)).String()
}

// definiteAnswer reports whether Partner Center answered a create request
// itself for sure, err being the call's error: an answer the client could
// read (err nil), or a 4xx refusal that repeating cannot change
// (partnercenter.IsTerminal) other than an authentication failure. Only such
// an answer moves the item's create MS-RequestId on. A timeout, a transport
// error, a 5xx or 408, a body cut short (even under a 2xx), a 429
// (throttled before it was looked at), a 409 (an operation pending,
// possibly the request's own), a refused credential or an answer the client
// cannot use says nothing sure about what the request did, so its repeat
// keeps the same MS-RequestId.
func definiteAnswer(err error) bool {
	return err == nil || (partnercenter.IsTerminal(err) && !partnercenter.IsAuth(err))
}
