package api

import (
	"net/http"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// itemHistory answers the history of a batch's items for one customer (and
// subscription, with ?subscription_id=): the JSON of `orchestrator history
// --json`. Ids that are not GUIDs get 400 naming the parameter.
func (h *Handler) itemHistory(w http.ResponseWriter, r *http.Request) {
	customer, err := upgrade.ParseGUID(r.PathValue("customer_id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "customer_id: "+err.Error())
		return
	}
	subscription := r.URL.Query().Get("subscription_id")
	if subscription != "" {
		if subscription, err = upgrade.ParseGUID(subscription); err != nil {
			writeError(w, http.StatusBadRequest, "subscription_id: "+err.Error())
			return
		}
	}
	b, err := h.store.BatchByName(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hist, err := report.LoadHistory(r.Context(), h.store, b, customer, subscription)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hist)
}
