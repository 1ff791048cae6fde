package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

const (
	c1 = "c1958bc7-3284-4952-a257-de594ee64743"
	c2 = "2e56c7f5-e120-4ca4-bff3-7da763b4d777"
	s1 = "16a28366-efcd-4dc6-b2bc-27a34b6079fc"
	s2 = "d6fbb57f-a6fb-4042-8871-c1d6f78121a0"
	s3 = "2f04c03a-65c6-4e43-922d-4bfa3e341d69"

	catalogItem = "DZH318Z0BQ3Q:0007:DZH318Z0BSMM"
)

func TestParseAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		op     upgrade.Operation // forced; "" detects
		in     string
		wantOp upgrade.Operation
		want   []store.NewItem
	}{
		// product_upgrade
		{
			name:   "product upgrade: plain",
			in:     "customer_id,product_family\n" + c1 + ",Azure\n" + c2 + ",azure\n",
			wantOp: upgrade.ProductUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}, {LineNumber: 3, CustomerID: c2, ProductFamily: "Azure"}},
		},
		{
			name:   "product upgrade: spreadsheet export: BOM, CRLF, header case and spaces, upper-case GUID, blank line",
			in:     "\ufeff Customer_ID , PRODUCT_FAMILY \r\n" + strings.ToUpper(c1) + " , \r\n\r\n" + c2 + ",Azure\r\n",
			wantOp: upgrade.ProductUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}, {LineNumber: 4, CustomerID: c2, ProductFamily: "Azure"}},
		},
		{
			name:   "product upgrade: product_family column optional",
			in:     "customer_id\n" + c1 + "\n",
			wantOp: upgrade.ProductUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}},
		},
		{
			name:   "product upgrade: shuffled columns",
			in:     "product_family,customer_id\nAzure," + c1 + "\n",
			wantOp: upgrade.ProductUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}},
		},
		{
			name:   "product upgrade: forced",
			op:     upgrade.ProductUpgrade,
			in:     "customer_id\n" + c1 + "\n",
			wantOp: upgrade.ProductUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}},
		},

		// subscription_upgrade
		{
			name: "subscription upgrade: every column",
			in: "customer_id,subscription_id,target_offer_id,upgrade_type\n" +
				c1 + "," + s1 + ",CFQ7TTC0LH18:0001, Upgrade_With_License_Transfer \n" +
				c1 + "," + s2 + ",,\n" +
				c2 + "," + s1 + ",,upgrade_only\n",
			wantOp: upgrade.SubscriptionUpgrade,
			want: []store.NewItem{
				{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, TargetID: "CFQ7TTC0LH18:0001", Options: upgrade.Options{UpgradeType: "upgrade_with_license_transfer"}},
				{LineNumber: 3, CustomerID: c1, SubscriptionID: s2},
				{LineNumber: 4, CustomerID: c2, SubscriptionID: s1, Options: upgrade.Options{UpgradeType: "upgrade_only"}},
			},
		},
		{
			name:   "subscription upgrade: BOM, CRLF, shuffled columns, upper-case GUIDs",
			in:     "\ufeffUPGRADE_TYPE , Subscription_Id,customer_id\r\nupgrade_only," + strings.ToUpper(s1) + "," + strings.ToUpper(c1) + "\r\n\r\n",
			wantOp: upgrade.SubscriptionUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, Options: upgrade.Options{UpgradeType: "upgrade_only"}}},
		},
		{
			name:   "subscription upgrade: forced without target columns",
			op:     upgrade.SubscriptionUpgrade,
			in:     "customer_id,subscription_id\n" + c1 + "," + s1 + "\n",
			wantOp: upgrade.SubscriptionUpgrade,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1}},
		},

		// transition
		{
			name: "transition: every column",
			in: "customer_id,subscription_id,to_catalog_item_id,transition_type,quantity,to_subscription_id,term_duration,billing_cycle\n" +
				c1 + "," + s1 + ", " + catalogItem + " ,Transition_With_License_Transfer,25," + strings.ToUpper(s2) + ",p1y,Annual\n" +
				c1 + "," + s2 + ",,,,,,\n",
			wantOp: upgrade.Transition,
			want: []store.NewItem{
				{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, TargetID: catalogItem, Options: upgrade.Options{
					TransitionType: "transition_with_license_transfer", Quantity: 25, ToSubscriptionID: s2, TermDuration: "P1Y", BillingCycle: "annual",
				}},
				{LineNumber: 3, CustomerID: c1, SubscriptionID: s2},
			},
		},
		{
			name: "transition: promotion and source catalog item",
			in: "customer_id,subscription_id,to_catalog_item_id,promotion_id,from_catalog_item_id\n" +
				c1 + "," + s1 + "," + catalogItem + ", 39NFJQT1Q5KL:0001:39NFJQT1Q5MD ,CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X\n" +
				c1 + "," + s2 + ",,,\n",
			wantOp: upgrade.Transition,
			want: []store.NewItem{
				{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, TargetID: catalogItem, Options: upgrade.Options{
					PromotionID: "39NFJQT1Q5KL:0001:39NFJQT1Q5MD", FromCatalogItemID: "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X",
				}},
				{LineNumber: 3, CustomerID: c1, SubscriptionID: s2},
			},
		},
		{
			name:   "transition: detected from promotion_id alone",
			in:     "Promotion_ID,customer_id,subscription_id\nPROMO-1_a," + c1 + "," + s1 + "\n",
			wantOp: upgrade.Transition,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, Options: upgrade.Options{PromotionID: "PROMO-1_a"}}},
		},
		{
			name:   "transition: BOM, CRLF, shuffled columns",
			in:     "\ufeffquantity,Subscription_ID,transition_type,CUSTOMER_ID\r\n1000000," + s1 + ",transition_only," + c1 + "\r\n",
			wantOp: upgrade.Transition,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, Options: upgrade.Options{TransitionType: "transition_only", Quantity: 1000000}}},
		},
		{
			name:   "transition: detected from term_duration alone",
			in:     "customer_id,subscription_id,term_duration\n" + c1 + "," + s1 + ",P3Y\n",
			wantOp: upgrade.Transition,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1, Options: upgrade.Options{TermDuration: "P3Y"}}},
		},
		{
			name:   "transition: forced without target columns",
			op:     upgrade.Transition,
			in:     "customer_id,subscription_id\n" + c1 + "," + s1 + "\n",
			wantOp: upgrade.Transition,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1}},
		},
		{
			name:   "same subscription under two customers is no duplicate",
			in:     "customer_id,subscription_id,to_catalog_item_id\n" + c1 + "," + s1 + ",\n" + c2 + "," + s1 + ",\n",
			wantOp: upgrade.Transition,
			want:   []store.NewItem{{LineNumber: 2, CustomerID: c1, SubscriptionID: s1}, {LineNumber: 3, CustomerID: c2, SubscriptionID: s1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op, got, err := Parse(strings.NewReader(tt.in), "in.csv", tt.op)
			require.NoError(t, err)
			require.Equal(t, tt.wantOp, op)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseDetectsOperation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		header string
		want   upgrade.Operation
	}{
		{"customer_id", upgrade.ProductUpgrade},
		{"customer_id,product_family", upgrade.ProductUpgrade},
		{"customer_id,subscription_id,target_offer_id", upgrade.SubscriptionUpgrade},
		{"upgrade_type,subscription_id,customer_id", upgrade.SubscriptionUpgrade},
		{"customer_id,subscription_id,to_catalog_item_id", upgrade.Transition},
		{"customer_id,subscription_id,transition_type", upgrade.Transition},
		{"customer_id,subscription_id,quantity", upgrade.Transition},
		{"customer_id,subscription_id,to_subscription_id", upgrade.Transition},
		{"customer_id,subscription_id,term_duration", upgrade.Transition},
		{"customer_id,subscription_id,billing_cycle", upgrade.Transition},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			n := strings.Count(tt.header, ",")
			row := c1
			if tt.want != upgrade.ProductUpgrade {
				// customer_id and subscription_id, in header order, other columns empty.
				fields := strings.Split(tt.header, ",")
				for i, f := range fields {
					switch f {
					case ColumnCustomerID:
						fields[i] = c1
					case ColumnSubscriptionID:
						fields[i] = s1
					default:
						fields[i] = ""
					}
				}
				row = strings.Join(fields, ",")
			} else if n == 1 {
				row = c1 + ","
			}
			op, items, err := Parse(strings.NewReader(tt.header+"\n"+row+"\n"), "in.csv", "")
			require.NoError(t, err)
			require.Equal(t, tt.want, op)
			require.Len(t, items, 1)
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()

	const (
		subHeader   = "customer_id,subscription_id,target_offer_id,upgrade_type\n"
		transHeader = "customer_id,subscription_id,to_catalog_item_id,transition_type,quantity,to_subscription_id,term_duration,billing_cycle\n"
	)
	tests := []struct {
		name string
		op   upgrade.Operation // forced; "" detects
		in   string
		want []string // problems, in order
	}{
		{"empty file", "", "", []string{"line 1: file is empty"}},
		{"empty file, forced", upgrade.Transition, "", []string{`line 1: file is empty; expected a header "customer_id,subscription_id,to_catalog_item_id,`}},
		{"header only", "", "customer_id\n", []string{"line 1: no customer rows"}},
		{"unknown and missing column", "", "customer,family\n", []string{
			`line 1: unknown column "customer"; expected the columns of one operation (product_upgrade: customer_id and optionally product_family; subscription_upgrade: `,
			`line 1: unknown column "family"`,
			"line 1: missing column customer_id",
		}},
		{"wrong delimiter", "", "customer_id;product_family\n" + c1 + ";Azure\n", []string{"other than commas", "missing column customer_id"}},
		{"wrong delimiter, subscription file", "", "customer_id;subscription_id;to_catalog_item_id\n", []string{"other than commas", "missing column customer_id"}},
		{"unknown column of a forced operation", upgrade.Transition, "customer_id;subscription_id\n", []string{
			`line 1: unknown column "customer_id;subscription_id" (the file looks delimited by something other than commas); expected customer_id, subscription_id and optionally to_catalog_item_id,`,
			"line 1: missing column customer_id",
			"line 1: missing column subscription_id",
		}},
		{"unknown column lists the detected operation's columns", "", "customer_id,subscription_id,quantity,colour\n", []string{
			`line 1: unknown column "colour"; expected customer_id, subscription_id and optionally to_catalog_item_id, transition_type, quantity, to_subscription_id, term_duration, billing_cycle, promotion_id, from_catalog_item_id`,
		}},
		{"missing subscription_id", "", "customer_id,target_offer_id\n", []string{"line 1: missing column subscription_id"}},
		{"missing customer_id", "", "subscription_id,quantity\n", []string{"line 1: missing column customer_id"}},
		{"duplicate column", "", "customer_id,Customer_ID\n", []string{`line 1: duplicate column "customer_id" (columns 1 and 2)`}},

		// detection
		{"ambiguous header", "", "customer_id,subscription_id\n" + c1 + "," + s1 + "\n", []string{
			"line 1: columns customer_id,subscription_id fit operations subscription_upgrade and transition: " +
				"pass --operation subscription_upgrade or --operation transition, or add a target column (target_offer_id or to_catalog_item_id)",
		}},
		{"ambiguous header with an unknown column", "", "customer_id,subscription_id,target\n", []string{
			`line 1: columns customer_id,subscription_id fit operations`,
			`line 1: unknown column "target"; expected the columns of one operation (product_upgrade: customer_id and optionally product_family; subscription_upgrade: `,
		}},
		{"mixed subscription upgrade and transition", "", "customer_id,subscription_id,target_offer_id,quantity\n", []string{
			"line 1: the header mixes columns of different operations: subscription_id (subscription_upgrade or transition), target_offer_id (subscription_upgrade), quantity (transition)",
		}},
		{"mixed product upgrade and subscription upgrade", "", "customer_id,product_family,subscription_id\n", []string{
			"line 1: the header mixes columns of different operations: product_family (product_upgrade), subscription_id (subscription_upgrade or transition)",
		}},
		{"forced operation with a foreign column", upgrade.SubscriptionUpgrade, "customer_id,subscription_id,quantity\n", []string{
			`line 1: unknown column "quantity" for operation subscription_upgrade (it is a column of transition); expected customer_id, subscription_id and optionally target_offer_id, upgrade_type`,
		}},
		{"forced product upgrade with subscription columns", upgrade.ProductUpgrade, "customer_id,subscription_id\n", []string{
			`line 1: unknown column "subscription_id" for operation product_upgrade (it is a column of subscription_upgrade or transition); expected customer_id and optionally product_family`,
		}},
		{"forced transition missing subscription_id", upgrade.Transition, "customer_id\n", []string{"line 1: missing column subscription_id"}},

		// product_upgrade rows
		{
			name: "product upgrade: every bad row is listed",
			in: "customer_id,product_family\n" +
				"not-a-guid,Azure\n" +
				c1 + ",Office\n" +
				",Azure\n" +
				c2 + ",Azure,extra\n" +
				c1 + ",Azure\n" +
				strings.ToUpper(c1) + ",azure\n",
			want: []string{
				`line 2, column customer_id: "not-a-guid" is not a GUID`,
				`line 3, column product_family: "Office" is not supported`,
				"line 4, column customer_id: is empty",
				"line 5: has 3 fields, the header has 2",
				"line 7, column customer_id: duplicate of line 6 (customer " + c1 + ", product family Azure)",
			},
		},
		{"broken quote", "", "customer_id\n\"" + c1 + "\n", []string{"line 2:"}},

		// subscription_upgrade rows
		{
			name: "subscription upgrade: field errors",
			in: subHeader +
				c1 + ",,,\n" +
				c1 + ",{" + s1 + "},,\n" +
				"x," + s1 + ",,\n" +
				c1 + "," + s1 + ",two words,\n" +
				c1 + "," + s2 + "," + strings.Repeat("A", 101) + ",\n" +
				c1 + "," + s3 + ",,upgrade\n",
			want: []string{
				"line 2, column subscription_id: is empty",
				`line 3, column subscription_id: "{` + s1 + `}" is not a GUID`,
				`line 4, column customer_id: "x" is not a GUID`,
				`line 5, column target_offer_id: "two words" contains spaces`,
				"line 6, column target_offer_id: ",
				`line 7, column upgrade_type: "upgrade" is not one of upgrade_only, upgrade_with_license_transfer`,
			},
		},
		{
			name: "subscription upgrade: duplicates name both lines",
			in: subHeader +
				c1 + "," + s1 + ",,\n" +
				c1 + "," + s2 + ",,\n" +
				strings.ToUpper(c1) + "," + strings.ToUpper(s1) + ",OTHER,\n",
			want: []string{"line 4, column subscription_id: duplicate of line 2 (customer " + c1 + ", subscription " + s1 + ")"},
		},

		// transition rows
		{
			name: "transition: field errors",
			in: transHeader +
				c1 + ",nope,,,,,,\n" +
				c1 + "," + s1 + ",ABC:0001,,,,,\n" +
				c1 + "," + s1 + ",ABC::0001,,,,,\n" +
				c1 + "," + s1 + ",ABC:00-1:X,,,,,\n" +
				c1 + "," + s1 + ",,transition,,,,\n" +
				c1 + "," + s1 + ",,,0,,,\n" +
				c1 + "," + s1 + ",,,1000001,,,\n" +
				c1 + "," + s1 + ",,,2.5,,,\n" +
				c1 + "," + s1 + ",,,99999999999999999999,,,\n" +
				c1 + "," + s1 + ",,,,not-a-guid,,\n" +
				c1 + "," + s1 + ",,,," + strings.ToUpper(s1) + ",,\n" +
				c1 + "," + s1 + ",,,,,1Y,\n" +
				c1 + "," + s1 + ",,,,,P1D,\n" +
				c1 + "," + s1 + ",,,,,,weekly\n",
			want: []string{
				`line 2, column subscription_id: "nope" is not a GUID`,
				`line 3, column to_catalog_item_id: "ABC:0001" is not a catalog item id`,
				`line 4, column to_catalog_item_id: "ABC::0001" is not a catalog item id`,
				`line 5, column to_catalog_item_id: "ABC:00-1:X" is not a catalog item id`,
				`line 6, column transition_type: "transition" is not one of transition_only, transition_with_license_transfer`,
				"line 7, column quantity: 0 is out of range 1..1000000",
				"line 8, column quantity: 1000001 is out of range 1..1000000",
				`line 9, column quantity: "2.5" is not a whole number`,
				"line 10, column quantity: 99999999999999999999 is out of range",
				`line 11, column to_subscription_id: "not-a-guid" is not a GUID`,
				"line 12, column to_subscription_id: is the source subscription " + s1,
				`line 13, column term_duration: "1Y" is not an ISO 8601 term`,
				`line 14, column term_duration: "P1D" is not an ISO 8601 term`,
				`line 15, column billing_cycle: "weekly" is not one of monthly, annual, triennial, none`,
			},
		},
		{
			name: "transition: promotion and source catalog item errors",
			in: "customer_id,subscription_id,promotion_id,from_catalog_item_id\n" +
				c1 + "," + s1 + ",two words,\n" +
				c1 + "," + s2 + ",A::B,\n" +
				c1 + "," + s3 + "," + strings.Repeat("P", 101) + ",\n" +
				c2 + "," + s1 + ",,CFQ7TTC0LF8Q:0001\n" +
				c2 + "," + s2 + ",promo;1,not a catalog item\n",
			want: []string{
				`line 2, column promotion_id: "two words" is not a promotion id`,
				`line 3, column promotion_id: "A::B" is not a promotion id`,
				"line 4, column promotion_id: \"" + strings.Repeat("P", 60) + `..." is longer than 100 characters`,
				`line 5, column from_catalog_item_id: "CFQ7TTC0LF8Q:0001" is not a catalog item id; expected {productId}:{skuId}:{availabilityId}`,
				`line 6, column promotion_id: "promo;1" is not a promotion id`,
				`line 6, column from_catalog_item_id: "not a catalog item" is not a catalog item id`,
			},
		},
		{
			name: "transition: one row with several errors lists each column",
			in:   transHeader + c1 + "," + s1 + ",x,y,-1,,P,z\n",
			want: []string{
				"line 2, column to_catalog_item_id:",
				"line 2, column transition_type:",
				"line 2, column quantity:",
				"line 2, column term_duration:",
				"line 2, column billing_cycle:",
			},
		},
		{
			name: "transition: duplicates name both lines",
			in: "to_catalog_item_id,subscription_id,customer_id\r\n" +
				"," + s1 + "," + c1 + "\r\n" +
				"," + s2 + "," + c1 + "\r\n" +
				catalogItem + "," + s1 + "," + c1 + "\r\n" +
				"," + s2 + "," + c1 + "\r\n",
			want: []string{
				"line 4, column subscription_id: duplicate of line 2 (customer " + c1 + ", subscription " + s1 + ")",
				"line 5, column subscription_id: duplicate of line 3 (customer " + c1 + ", subscription " + s2 + ")",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op, items, err := Parse(strings.NewReader(tt.in), "in.csv", tt.op)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "got %v", err)
			require.Empty(t, op)
			require.Nil(t, items)
			require.Len(t, ve.Problems, len(tt.want), "problems: %v", ve.Problems)
			for i, w := range tt.want {
				require.Contains(t, ve.Problems[i].String(), w)
			}
			require.Contains(t, err.Error(), "in.csv:", "messages name the file")
			require.Contains(t, err.Error(), "nothing imported")
		})
	}
}

func TestParseRefusesUnknownOperation(t *testing.T) {
	t.Parallel()

	_, _, err := Parse(strings.NewReader("customer_id\n"+c1+"\n"), "in.csv", "upgrade_everything")
	require.ErrorContains(t, err, `unknown operation "upgrade_everything"`)
}

func TestParseCapsListedProblems(t *testing.T) {
	t.Parallel()

	in := "customer_id\n" + strings.Repeat("bad\n", maxProblems+7)
	_, _, err := Parse(strings.NewReader(in), "big.csv", "")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Problems, maxProblems)
	require.Equal(t, 7, ve.More)
	require.Contains(t, err.Error(), "and 7 more")
}

func TestColumns(t *testing.T) {
	t.Parallel()

	for _, op := range upgrade.Operations() {
		req, opt := Columns(op)
		require.Contains(t, req, ColumnCustomerID, op)
		require.NotEmpty(t, opt, op)
	}
	req, opt := Columns("nope")
	require.Nil(t, req)
	require.Nil(t, opt)
}
