package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// CodeOutcomeUnconfirmed: a create whose earlier request got no answer was
// refused when repeated, for a state that request may itself have produced
// (a subscription upgrade answered 800012, "subscription not active").
// Partner Center offers no way to read which upgrade made it so, so the
// item is neither failed nor completed: it is flagged for a person to check.
const CodeOutcomeUnconfirmed = "outcome_unconfirmed"

// prepareCreate stores req as the create request of item it's current
// generation and create sequence, with the target and type it names, and
// returns it as it will be sent: decoded from the stored bytes, so that
// the first request and every repeat encode to the same body, which
// Partner Center needs to recognise a repeated MS-RequestId.
func prepareCreate[T any](ctx context.Context, d *Deps, it *store.Item, req T, target, typ string) (T, error) {
	var out T
	b, err := json.Marshal(req)
	if err != nil {
		return out, fmt.Errorf("encode the create request of item %d: %w", it.ID, err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("decode the create request of item %d: %w", it.ID, err)
	}
	if err := d.Store.PrepareCreate(ctx, *it, b, target, typ); err != nil {
		return out, err
	}
	it.CreateBody = b
	return out, nil
}

// preparedCreate returns the create request an earlier run of this attempt
// prepared (see prepareCreate), and whether there is one.
func preparedCreate[T any](it store.Item) (T, bool, error) {
	var out T
	if it.CreateBody == nil {
		return out, false, nil
	}
	if err := json.Unmarshal(it.CreateBody, &out); err != nil {
		return out, false, fmt.Errorf("decode the prepared create request of item %d: %w", it.ID, err)
	}
	return out, true, nil
}

// ownStateRefusal reports whether a refusal of a repeated create may be
// about the state the unanswered earlier request produced: a terminal 4xx
// answer other than an authentication failure, to a create whose earlier
// request's outcome is unknown.
func ownStateRefusal(it store.Item, err error) bool {
	return it.CreateUnknown && partnercenter.IsTerminal(err) && !partnercenter.IsAuth(err)
}

// answerText is how unconfirmed names Partner Center's answer err.
func answerText(err error) string {
	if code := partnercenter.ErrorCode(err); code != "" {
		return code + " (" + callMessage(err) + ")"
	}
	return callMessage(err)
}

// unconfirmed moves a pending item whose create outcome cannot be read
// back to in_progress, flagged for attention and stuck
// (CodeOutcomeUnconfirmed), with Partner Center's answer in the message:
// the item is not failed or ineligible for a state its own earlier request
// may have produced, and is not shown as done either.
func unconfirmed(ctx context.Context, d *Deps, it store.Item, what, answer string) error {
	msg := fmt.Sprintf("%s: an earlier request for it got no answer, and Partner Center now answers %s; "+
		"that request may have done the work: check the subscription in Partner Center", what, answer)
	t := store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress,
		Reason: "create outcome unconfirmed", Worker: d.Worker, Lease: it.Lease}
	err := d.Store.InTx(ctx, func(_ pgx.Tx, s *store.Store) error {
		if err := s.TransitionItem(ctx, it.ID, t); err != nil {
			return err
		}
		return s.FlagAttention(ctx, it.ID, d.Worker, CodeOutcomeUnconfirmed, msg)
	})
	if isStale(err) {
		return nil
	}
	if errors.Is(err, store.ErrLeaseLost) {
		return leaseLost(ctx, d, it, err)
	}
	if err != nil {
		return err
	}
	settled(ctx, d, it, t)
	observeAttention(d, it, CodeOutcomeUnconfirmed)
	return nil
}
