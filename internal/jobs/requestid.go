package jobs

import (
	"fmt"
	"net/http"

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

// definiteAnswer reports whether Partner Center answered a request for sure
// (any status but a 5xx or 408), as opposed to a timeout, a transport error
// or a server failure after which the outcome is unknown.
func definiteAnswer(resp *partnercenter.Response) bool {
	code := resp.Status()
	return code != 0 && code < 500 && code != http.StatusRequestTimeout
}
