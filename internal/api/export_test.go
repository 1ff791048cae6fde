package api

import "time"

// SetTransferTimeout replaces h's TransferTimeout with d.
func SetTransferTimeout(h *Handler, d time.Duration) { h.transferTimeout = d }
