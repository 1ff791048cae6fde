package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// APICall is one Partner Center request, answered or not.
type APICall struct {
	BatchID         int64
	ItemID          int64
	Operation       string
	HTTPStatus      int // 0 when no response arrived
	RequestID       string
	CorrelationID   string
	ServerRequestID string
	// CV is the MS-CV header Partner Center returned, and RequestCV the one
	// sent (the only trace of a call that got no answer).
	CV           string
	RequestCV    string
	Duration     time.Duration
	ErrorCode    string
	ErrorMessage string // Partner Center's description, or what went wrong on the way
	Generation   int    // the item's generation when the call was made
	Worker       string // the process that made the call
}

// RecordAPICall appends one row to the api_calls table.
func (s *Store) RecordAPICall(ctx context.Context, c APICall) error {
	_, err := s.db.Exec(ctx, `
		insert into api_calls (batch_id, item_id, operation, http_status, request_id, correlation_id,
		    server_request_id, duration_seconds, error_code, generation, worker, ms_cv, request_cv, error_message)
		values (nullif($1, 0), nullif($2, 0), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.BatchID, c.ItemID, c.Operation, c.HTTPStatus, c.RequestID, c.CorrelationID,
		c.ServerRequestID, c.Duration.Seconds(), c.ErrorCode, c.Generation, c.Worker, c.CV, c.RequestCV, c.ErrorMessage)
	if err != nil {
		return fmt.Errorf("record %s call for item %d: %w", c.Operation, c.ItemID, err)
	}
	return nil
}

// RecordAnsweredCall is RecordAPICall for a call that was answered, in
// the same statement noting that families answered: their transient-failure
// streaks (RecordTransient) end and their outage holds are released, except
// a hold still inside a wait the endpoint asked for (placed by
// HoldOutageUntil, no probe sent yet). It returns the holds released.
func (s *Store) RecordAnsweredCall(ctx context.Context, c APICall, families []string) ([]Hold, error) {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = OutageHold(f)
	}
	rows, err := s.db.Query(ctx, `
		with streaks as (
		    update outage_streaks set failures = 0, since = null, updated_at = now()
		    where family = any($15) and failures > 0
		), released as (
		    delete from holds
		    where name = any($16) and (probes > 0 or until <= now())
		    returning name, reason, until, created_at, probes
		), recorded as (
		    insert into api_calls (batch_id, item_id, operation, http_status, request_id, correlation_id,
		        server_request_id, duration_seconds, error_code, generation, worker, ms_cv, request_cv, error_message)
		    values (nullif($1, 0), nullif($2, 0), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		)
		select name, reason, until, created_at, probes from released`,
		c.BatchID, c.ItemID, c.Operation, c.HTTPStatus, c.RequestID, c.CorrelationID,
		c.ServerRequestID, c.Duration.Seconds(), c.ErrorCode, c.Generation, c.Worker, c.CV, c.RequestCV, c.ErrorMessage,
		families, names)
	if err != nil {
		return nil, fmt.Errorf("record %s call for item %d: %w", c.Operation, c.ItemID, err)
	}
	released, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("record %s call for item %d: %w", c.Operation, c.ItemID, err)
	}
	return released, nil
}

// APICalls returns an item's Partner Center calls in the order they were made.
func (s *Store) APICalls(ctx context.Context, itemID int64) ([]APICall, error) {
	rows, err := s.db.Query(ctx, `
		select coalesce(batch_id, 0), coalesce(item_id, 0), operation, http_status, request_id,
		       correlation_id, server_request_id, duration_seconds, error_code, generation, worker,
		       ms_cv, request_cv, error_message
		from api_calls where item_id = $1 order by id`, itemID)
	if err != nil {
		return nil, fmt.Errorf("read calls of item %d: %w", itemID, err)
	}
	defer rows.Close()
	var calls []APICall
	for rows.Next() {
		var c APICall
		var secs float64
		if err := rows.Scan(&c.BatchID, &c.ItemID, &c.Operation, &c.HTTPStatus, &c.RequestID,
			&c.CorrelationID, &c.ServerRequestID, &secs, &c.ErrorCode, &c.Generation, &c.Worker,
			&c.CV, &c.RequestCV, &c.ErrorMessage); err != nil {
			return nil, fmt.Errorf("read calls of item %d: %w", itemID, err)
		}
		c.Duration = time.Duration(secs * float64(time.Second))
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read calls of item %d: %w", itemID, err)
	}
	return calls, nil
}
