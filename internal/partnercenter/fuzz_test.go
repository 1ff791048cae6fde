package partnercenter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Every response decoder and checkResponse must turn any input into a value
// or an error, never a panic. The seed corpus is the testdata fixtures plus
// a few hand-picked oddities.

// seedFixtures adds the named fixtures and some generic odd bodies.
func seedFixtures(f *testing.F, names ...string) {
	f.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `[null]`, `{"items":null}`, `{"items":[{}]}`, `{"transition":[{"events":[{}]}]}`,
		`{"code":"x","upgradeType":"UPGRADE-ONLY","timestamp":7}`, `{"upgradeType":1e300,"code":-0.5}`,
		`{"items":[{"targetOffer":{"id":"a","ID":"b","x":[1,{"y":null}]},"upgradeErrors":[{"code":"subscription_not_provisioned"}]}]}`,
		`{"events":[{"status":" started ","timestamp":"0001-01-01T00:00:00"}]}`, `{"lineItems":[{"upgradedDate":"2019-08-29T23:47:28.8524555"}]}`,
		"{\"status\":\"\xff\"}", `{"a":`,
	} {
		f.Add([]byte(s))
	}
}

// fuzzDecode decodes body into v and, when that succeeds, re-encodes v, so
// the custom marshallers run too.
func fuzzDecode(t *testing.T, body []byte, v any) bool {
	t.Helper()
	err := decodeBody(body, v)
	if err != nil {
		if !errors.Is(err, ErrDecode) {
			t.Fatalf("decode error does not wrap ErrDecode: %v", err)
		}
		return false
	}
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("re-encode %T: %v", v, err)
	}
	return true
}

func FuzzDecodeProductUpgradesEligibility(f *testing.F) {
	seedFixtures(f, "product_upgrade_eligibility.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v ProductUpgradesEligibility
		fuzzDecode(t, body, &v)
	})
}

func FuzzDecodeProductUpgradesStatus(f *testing.F) {
	seedFixtures(f, "product_upgrade_status_completed.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v ProductUpgradesStatus
		if fuzzDecode(t, body, &v) {
			_, _, _ = v.Terminal(), v.Succeeded(), v.Failed()
			_ = v.ErrorDetails.Text()
			for i := range v.LineItems {
				li := &v.LineItems[i]
				_, _, _ = li.Terminal(), li.Succeeded(), li.Failed()
				if li.UpgradedDate != nil && li.UpgradedDate.Location() != time.UTC {
					t.Fatalf("upgradedDate not in UTC: %v", li.UpgradedDate)
				}
			}
		}
	})
}

func FuzzDecodeUpgrades(f *testing.F) {
	seedFixtures(f, "subscription_upgrades.json", "subscription_upgrade_request.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v collection[Upgrade]
		if !fuzzDecode(t, body, &v) {
			return
		}
		for _, up := range v.list() {
			_ = up.UpgradeType.String()
			// What List returns must be accepted back by Perform's encoder
			// and decode to the same modelled fields.
			b, err := json.Marshal(up)
			if err != nil {
				t.Fatalf("encode upgrade: %v", err)
			}
			var again Upgrade
			if err := json.Unmarshal(b, &again); err != nil {
				t.Fatalf("decode re-encoded upgrade %s: %v", b, err)
			}
			if again.TargetOffer.ID != up.TargetOffer.ID || again.UpgradeType != up.UpgradeType {
				t.Fatalf("round trip changed the upgrade: %+v -> %+v", up, again)
			}
		}
	})
}

func FuzzDecodeUpgradeResult(f *testing.F) {
	seedFixtures(f, "subscription_upgrade_result.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v UpgradeResult
		if fuzzDecode(t, body, &v) {
			_ = v.Succeeded()
		}
	})
}

func FuzzDecodeTransitionEligibilities(f *testing.F) {
	seedFixtures(f, "transition_eligibilities.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v collection[TransitionEligibility]
		if fuzzDecode(t, body, &v) {
			for _, e := range v.list() {
				_ = e.Eligible(TransitionTypeOnly)
				for _, d := range e.Eligibilities {
					for _, te := range d.Errors {
						_ = te.Code.String()
					}
				}
			}
		}
	})
}

func FuzzDecodeTransition(f *testing.F) {
	seedFixtures(f, "transition_create.json", "transition_request.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var v Transition
		if fuzzDecode(t, body, &v) {
			_, _, _ = v.Terminal(), v.Succeeded(), v.Failed()
		}
	})
}

func FuzzDecodeTransitions(f *testing.F) {
	seedFixtures(f, "transitions_docs.json", "transitions_items.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v := collection[Transition]{altKeys: []string{"transition", "transitions"}}
		if fuzzDecode(t, body, &v) {
			for _, tr := range v.list() {
				_, _, _ = tr.Terminal(), tr.Succeeded(), tr.Failed()
				for _, e := range tr.Events {
					_, _, _ = e.Terminal(), e.Succeeded(), e.Failed()
				}
			}
		}
	})
}

func FuzzCheckResponse(f *testing.F) {
	for _, name := range []string{"error_bad_request.json", "error_throttled.json", "error_unexpected.html", "product_upgrade_eligibility.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(400, "", "", "application/json", b)
		f.Add(429, "57", "Thu, 04 Oct 2019 20:35:35 GMT", "application/json", b)
		f.Add(502, "", "", "text/html", b)
	}
	f.Add(429, "Thu, 04 Oct 2019 20:36:05 GMT", "Thu, 04 Oct 2019 20:35:35 GMT", "", []byte(`{"statusCode":429,"message":"Try again in 99999999999 seconds"}`))
	f.Add(429, "-1e400", "", "", []byte(`{"statusCode":429}`))
	f.Add(429, "NaN", "garbage", "", []byte(nil))
	f.Add(401, "", "", "", []byte(`{"error":{"code":1,"message":"Bearer eyJhbGciOi.eyJzdWIi.sig"}}`))
	f.Add(200, "", "", "", []byte(`not read`))
	f.Add(-1, "", "", "", []byte("<html><title>x"))
	f.Add(999, "1", "", "text/html", []byte("<title></title><script>"))

	f.Fuzz(func(t *testing.T, status int, retryAfter, date, contentType string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Date", date)
		h.Set("Content-Type", contentType)
		req, _ := http.NewRequest(http.MethodGet, "https://api.partnercenter.microsoft.com/v1/x", nil)
		req.Header.Set("Authorization", "Bearer fuzz-access-token-value")
		resp := &http.Response{
			StatusCode: status,
			Status:     strconv.Itoa(status) + " " + string(body[:min(len(body), 20)]),
			Header:     h,
			Body:       io.NopCloser(bytes.NewReader(body)),
			Request:    req,
		}
		err := checkResponse(resp)
		if status >= 200 && status <= 299 {
			if err != nil {
				t.Fatalf("2xx became an error: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("status %d gave no error", status)
		}
		msg := err.Error()
		if bytes.Contains([]byte(msg), []byte("fuzz-access-token-value")) {
			t.Fatalf("error text carries the access token: %q", msg)
		}
		_, _, _, _ = IsRetryable(err), IsAuth(err), IsTerminal(err), ErrorCode(err)
		if d, ok := IsRateLimited(err); ok && (d < minRetryAfter || d > maxRetryAfter) {
			t.Fatalf("retry after %v out of bounds", d)
		}
		if status == http.StatusTooManyRequests {
			if _, ok := IsRateLimited(err); !ok {
				t.Fatal("429 is not a RateLimitError")
			}
		}
	})
}
