package jobs_test

import (
	"context"
	"fmt"
	"strconv"

	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func quickSim() simulator.Options {
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 200*time.Millisecond, 600*time.Millisecond
	opts.IneligibleShare, opts.FailShare = 0.2, 0.2
	return opts
}

func TestProductUpgradeOperation(t *testing.T) {
	t.Parallel()
	customers := guids(30, "product")
	w := newWorld(t, quickSim(), nil)

	// Two customers were already upgraded by someone else (one still in
	// progress when the batch starts): the service adopts those upgrades.
	outside := w.outside()
	adopted := map[string]string{}
	for _, c := range customers {
		if len(adopted) == 2 {
			break
		}
		if !w.sim.Predict(c).Eligible {
			continue
		}
		id, _, err := outside.ProductUpgrades.Create(context.Background(), partnercenter.Call{}, partnercenter.ProductUpgradesRequest{CustomerID: c, ProductFamily: "Azure"})
		require.NoError(t, err)
		adopted[c] = id
	}

	lines := []string{"customer_id,product_family"}
	for _, c := range customers {
		lines = append(lines, c+",Azure")
	}
	b := w.importCSV("product", importer.Options{}, lines...)
	require.Equal(t, upgrade.ProductUpgrade, b.Operation)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)

	got := byCustomer(w.rows(b))
	for _, c := range customers {
		p := w.sim.Predict(c)
		rows := got[c]
		require.NotEmpty(t, rows, c)
		switch {
		case !p.Eligible:
			require.Equal(t, upgrade.StatusIneligible, rows[0].Status, c)
			require.Equal(t, p.Reason, rows[0].ErrorMessage)
			require.Zero(t, w.sim.CreatedCount(c), "an ineligible customer is never created")
		default:
			want := upgrade.StatusCompleted
			if p.Fails {
				want = upgrade.StatusFailed
			}
			require.Equal(t, want, rows[0].Status, c)
			require.Len(t, rows, len(p.LineItems), "every line item recorded")
			require.Equal(t, 1, w.sim.CreatedCount(c), "exactly one upgrade for %s", c)
			if id, ok := adopted[c]; ok {
				require.Equal(t, id, rows[0].UpgradeID, "the outside upgrade was adopted")
			}
		}
	}
	require.Empty(t, w.sim.Stats().Duplicates)
}

func TestSubscriptionUpgradeOperation(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.LicenseErrorShare = 0.3
	w := newWorld(t, opts, nil)

	customers, subs := guids(40, "sub-customer"), guids(40, "sub-subscription")
	lines := []string{"customer_id,subscription_id,target_offer_id,upgrade_type"}
	type want struct {
		status upgrade.Status
		code   string
		target string
	}
	wants := map[string]want{}
	var named, badTarget, ineligibleTarget, outsideDone string
	for i := range customers {
		c, s := customers[i], subs[i]
		p := w.sim.PredictSubscriptionUpgrade(c, s)
		eligible := p.EligibleOfferIDs()
		target := ""
		switch {
		case len(eligible) > 1 && named == "":
			// Several eligible upgrades: the file names the second.
			named, target = c, eligible[1]
			wants[c] = want{upgrade.StatusCompleted, "", target}
		case len(eligible) == 1 && badTarget == "":
			badTarget, target = c, "00000000-BOGUS-OFFER"
			wants[c] = want{upgrade.StatusFailed, jobs.CodeTargetNotOffered, ""}
		case len(eligible) == 1 && outsideDone == "":
			// Someone else upgrades it before the batch runs: Partner
			// Center lists the source as not active (code 2).
			outsideDone = c
			up := p.Paths[0]
			for _, pp := range p.Paths {
				if pp.Eligible {
					up = pp
				}
			}
			body := partnercenter.Upgrade{TargetOffer: partnercenter.Offer{ID: up.OfferID}, UpgradeType: partnercenter.UpgradeTypeUpgradeOnly, IsEligible: true}
			_, _, err := w.outside().SubscriptionUpgrades.Perform(context.Background(), partnercenter.Call{}, c, s, body)
			require.NoError(t, err)
			wants[c] = want{upgrade.StatusIneligible, "2", ""}
		case len(eligible) == 1:
			wants[c] = want{upgrade.StatusCompleted, "", eligible[0]}
		case len(eligible) > 1:
			wants[c] = want{upgrade.StatusFailed, jobs.CodeTargetAmbiguous, ""}
		default:
			code := strconv.Itoa(p.Paths[0].ErrorCodes[0]) // as Partner Center sent it: a number
			if ineligibleTarget == "" {
				ineligibleTarget, target = c, p.Paths[0].OfferID
			}
			wants[c] = want{upgrade.StatusIneligible, code, ""}
		}
		lines = append(lines, fmt.Sprintf("%s,%s,%s,", c, s, target))
	}
	require.NotEmpty(t, named, "the world has a subscription with several eligible upgrades")
	require.NotEmpty(t, ineligibleTarget)

	b := w.importCSV("subs", importer.Options{}, lines...)
	require.Equal(t, upgrade.SubscriptionUpgrade, b.Operation)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)

	got := byCustomer(w.rows(b))
	for i, c := range customers {
		s := subs[i]
		rows := got[c+"/"+s]
		require.NotEmpty(t, rows, c)
		wt := wants[c]
		require.Equal(t, wt.status, rows[0].Status, "customer %s: %+v", c, rows[0])
		p := w.sim.PredictSubscriptionUpgrade(c, s)
		switch wt.status {
		case upgrade.StatusCompleted:
			require.Equal(t, wt.target, rows[0].Target)
			require.Equal(t, p.TargetSubscriptionID(wt.target), rows[0].UpgradeID, "the target subscription is recorded")
			require.Equal(t, 1, w.sim.SubscriptionUpgradeCount(c, s))
			licenseRows := 0
			for _, r := range rows {
				if r.DetailKind == store.DetailLicenseError {
					licenseRows++
					require.Equal(t, "60000", r.ErrorCode)
				}
			}
			if rows[0].Type == "upgrade_with_license_transfer" {
				require.Equal(t, p.LicenseErrors, licenseRows, "every license error recorded")
			}
		default:
			require.Equal(t, wt.code, rows[0].ErrorCode, "customer %s: %s", c, rows[0].ErrorMessage)
			require.NotEmpty(t, rows[0].ErrorMessage)
			if c != outsideDone {
				require.Zero(t, w.sim.SubscriptionUpgradeCount(c, s), "nothing performed for %s", c)
			}
		}
	}
}

// A subscription upgrade Partner Center performed but whose result was not
// recorded (the process died, here the recording transaction fails once) is
// retried with the same MS-RequestId: Partner Center answers it as the
// request it already performed, not as a second upgrade (800012).
func TestSubscriptionUpgradeRetriedAfterALostResultIsNotRepeated(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	ctx := context.Background()

	var customer, sub, target string
	customers, subs := guids(40, "lost-result-customer"), guids(40, "lost-result-subscription")
	for i := range customers {
		if eligible := w.sim.PredictSubscriptionUpgrade(customers[i], subs[i]).EligibleOfferIDs(); len(eligible) == 1 {
			customer, sub, target = customers[i], subs[i], eligible[0]
			break
		}
	}
	require.NotEmpty(t, customer, "the world has a subscription with one eligible upgrade")
	_, err := w.db.Exec(ctx, `
		create sequence lost_results;
		create function lose_first_result() returns trigger language plpgsql as $$
		begin
		    if new.to_status = 'in_progress' and nextval('lost_results') = 1 then
		        raise exception 'result lost before it was recorded';
		    end if;
		    return new;
		end $$;
		create trigger lose_first_result before insert on item_events
		    for each row execute function lose_first_result();`)
	require.NoError(t, err)

	b := w.importCSV("lost", importer.Options{}, "customer_id,subscription_id,target_offer_id,upgrade_type", customer+","+sub+",,")
	w.waitStatus(b, upgrade.BatchCompleted, 30*time.Second)

	var lost int64
	require.NoError(t, w.db.QueryRow(ctx, `select last_value from lost_results`).Scan(&lost))
	require.GreaterOrEqual(t, lost, int64(2), "the first result was lost and recorded on retry")
	rows := byCustomer(w.rows(b))[customer+"/"+sub]
	require.NotEmpty(t, rows)
	require.Equal(t, upgrade.StatusCompleted, rows[0].Status, "%+v", rows[0])
	require.Equal(t, target, rows[0].Target)
	require.Equal(t, 1, w.sim.SubscriptionUpgradeCount(customer, sub))
}

func TestTransitionOperation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	customers, subs := guids(30, "tr-customer"), guids(30, "tr-subscription")

	// One subscription's transition was started outside the service: the
	// service adopts it instead of creating a second one.
	var adoptedPair string
	lines := []string{"customer_id,subscription_id,transition_type"}
	for i := range customers {
		c, s := customers[i], subs[i]
		p := w.sim.PredictTransition(c, s)
		if adoptedPair == "" && len(eligibleTargets(p, "transition_only")) == 1 {
			tgt := eligibleTargets(p, "transition_only")[0]
			_, _, err := w.outside().Transitions.Create(context.Background(), partnercenter.Call{}, c, s, partnercenter.Transition{
				ToCatalogItemID: tgt.CatalogItemID, Quantity: tgt.Quantity, TransitionType: "transition_only"})
			require.NoError(t, err)
			adoptedPair = c
		}
		lines = append(lines, c+","+s+",transition_only")
	}
	b := w.importCSV("transitions", importer.Options{}, lines...)
	require.Equal(t, upgrade.Transition, b.Operation)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)

	got := byCustomer(w.rows(b))
	seen := map[upgrade.Status]int{}
	for i, c := range customers {
		s := subs[i]
		p := w.sim.PredictTransition(c, s)
		rows := got[c+"/"+s]
		require.NotEmpty(t, rows)
		targets := eligibleTargets(p, "transition_only")
		seen[rows[0].Status]++
		switch len(targets) {
		case 0:
			require.Equal(t, upgrade.StatusIneligible, rows[0].Status, c)
			require.NotEmpty(t, rows[0].ErrorCode)
			require.Zero(t, w.sim.TransitionCount(c, s))
		case 1:
			want := upgrade.StatusCompleted
			if p.Fails {
				want = upgrade.StatusFailed
			}
			require.Equal(t, want, rows[0].Status, "customer %s", c)
			require.Equal(t, targets[0].CatalogItemID, rows[0].Target)
			require.Equal(t, 1, w.sim.TransitionCount(c, s), "exactly one transition for %s", c)
			require.NotEmpty(t, rows[0].UpgradeID, "operation id recorded")
			last := rows[len(rows)-1]
			require.Equal(t, "Conversion", last.DetailName, "events recorded")
			if want == upgrade.StatusFailed {
				require.Equal(t, "Failed", last.DetailStatus)
				require.NotEmpty(t, last.ErrorCode, "the failed event carries its error")
			} else {
				require.Equal(t, "Completed", last.DetailStatus)
			}
		default:
			require.Equal(t, upgrade.StatusFailed, rows[0].Status)
			require.Equal(t, jobs.CodeTargetAmbiguous, rows[0].ErrorCode)
			require.Zero(t, w.sim.TransitionCount(c, s))
		}
	}
	require.NotEmpty(t, adoptedPair)
	require.Positive(t, seen[upgrade.StatusCompleted], "some transitions completed: %v", seen)
}

func eligibleTargets(p simulator.TransitionOutcome, typ string) []simulator.TransitionTarget {
	var out []simulator.TransitionTarget
	for _, t := range p.Targets {
		for _, e := range t.EligibleTypes {
			if e == typ {
				out = append(out, t)
			}
		}
	}
	return out
}
