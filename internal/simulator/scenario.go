package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario files (YAML) describe a simulated world; see docs/simulator.md
// for every key. Unknown keys are errors naming their line. A scenario
// starts from DefaultOptions with DefaultRateLimits; keys given override.

// yamlDuration is a duration written like "1m30s".
type yamlDuration time.Duration

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration expected", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 500ms, 5s, 1m)", n.Line, s)
	}
	*d = yamlDuration(v)
	return nil
}

type scenarioLatency struct {
	Fixed  yamlDuration `yaml:"fixed"`
	Min    yamlDuration `yaml:"min"`
	Max    yamlDuration `yaml:"max"`
	Mean   yamlDuration `yaml:"mean"`
	StdDev yamlDuration `yaml:"stddev"`
}

type scenarioFault struct {
	Status500      float64         `yaml:"status_500"`
	Status503      float64         `yaml:"status_503"`
	RetryAfter503  yamlDuration    `yaml:"retry_after_503"`
	Reset          float64         `yaml:"reset"`
	ResetAfterWork float64         `yaml:"reset_after_work"`
	Malformed      float64         `yaml:"malformed"`
	Status500After float64         `yaml:"status_500_after_work"`
	Status503After float64         `yaml:"status_503_after_work"`
	Latency        scenarioLatency `yaml:"latency"`
}

type scenarioRateLimit struct {
	Limit  *int         `yaml:"limit"`
	Per    yamlDuration `yaml:"per"`
	Scope  string       `yaml:"scope"`
	Bucket string       `yaml:"bucket"`
}

type scenarioFile struct {
	Seed              *int64   `yaml:"seed"`
	IneligibleShare   *float64 `yaml:"ineligible_share"`
	FailShare         *float64 `yaml:"fail_share"`
	LicenseErrorShare *float64 `yaml:"license_error_share"`
	Ineligible        []string `yaml:"ineligible"`
	Failing           []string `yaml:"failing"`
	Succeeding        []string `yaml:"succeeding"`
	Lifecycle         *struct {
		Min yamlDuration `yaml:"min"`
		Max yamlDuration `yaml:"max"`
	} `yaml:"lifecycle"`
	MaxLineItems   *int          `yaml:"max_line_items"`
	TokenTTL       *yamlDuration `yaml:"token_ttl"`
	ClockSpeedup   *float64      `yaml:"clock_speedup"`
	PinCredentials *struct {
		ClientID     string `yaml:"client_id"`
		ClientSecret string `yaml:"client_secret"`
	} `yaml:"pin_credentials"`
	DocumentedRateLimits *bool                        `yaml:"documented_rate_limits"`
	RateLimits           map[string]scenarioRateLimit `yaml:"rate_limits"`
	Faults               map[string]scenarioFault     `yaml:"faults"`
	TokenOutage          *struct {
		From       yamlDuration `yaml:"from"`
		To         yamlDuration `yaml:"to"`
		Share      float64      `yaml:"share"`
		RetryAfter yamlDuration `yaml:"retry_after"`
	} `yaml:"token_outage"`
	Outages []struct {
		From       yamlDuration `yaml:"from"`
		To         yamlDuration `yaml:"to"`
		Scope      string       `yaml:"scope"`
		Answer     string       `yaml:"answer"`
		RetryAfter yamlDuration `yaml:"retry_after"`
	} `yaml:"outages"`
	Partial *struct {
		TopLevelErrorShare       float64 `yaml:"top_level_error_share"`
		FailedLineShare          float64 `yaml:"failed_line_share"`
		ConvertedThenFailedShare float64 `yaml:"converted_then_failed_share"`
		UnknownStatusShare       float64 `yaml:"unknown_status_share"`
		UnknownStatus            string  `yaml:"unknown_status"`
	} `yaml:"partial"`
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Options, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Options{}, fmt.Errorf("simulator: scenario: %w", err)
	}
	o, err := ParseScenario(b)
	if err != nil {
		return Options{}, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// ParseScenario parses a scenario document strictly and validates the
// resulting options.
func ParseScenario(b []byte) (Options, error) {
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Options{}, fmt.Errorf("simulator: scenario: %w", err)
	}
	o := DefaultOptions()
	if f.DocumentedRateLimits == nil || *f.DocumentedRateLimits {
		o.RateLimits = DefaultRateLimits()
	} else {
		o.RateLimits = map[string]RateLimit{}
	}
	if f.Seed != nil {
		o.Seed = *f.Seed
	}
	if f.IneligibleShare != nil {
		o.IneligibleShare = *f.IneligibleShare
	}
	if f.FailShare != nil {
		o.FailShare = *f.FailShare
	}
	if f.LicenseErrorShare != nil {
		o.LicenseErrorShare = *f.LicenseErrorShare
	}
	o.Ineligible, o.Failing, o.Succeeding = f.Ineligible, f.Failing, f.Succeeding
	if f.Lifecycle != nil {
		o.MinDuration, o.MaxDuration = time.Duration(f.Lifecycle.Min), time.Duration(f.Lifecycle.Max)
	}
	if f.MaxLineItems != nil {
		o.MaxLineItems = *f.MaxLineItems
	}
	if f.TokenTTL != nil {
		o.TokenTTL = time.Duration(*f.TokenTTL)
	}
	if f.ClockSpeedup != nil {
		o.ClockSpeedup = *f.ClockSpeedup
	}
	if p := f.PinCredentials; p != nil {
		o.PinCredentials = &Credentials{ClientID: p.ClientID, ClientSecret: p.ClientSecret}
	}
	for op, rl := range f.RateLimits {
		cur := o.RateLimits[op]
		if rl.Limit != nil {
			cur.Limit = *rl.Limit
		}
		if rl.Per != 0 {
			cur.Per = time.Duration(rl.Per)
		}
		if rl.Scope != "" {
			cur.Scope = RateScope(rl.Scope)
		}
		if rl.Bucket != "" {
			cur.Bucket = rl.Bucket
		}
		o.RateLimits[op] = cur
	}
	if len(f.Faults) > 0 {
		o.Faults = make(map[string]Fault, len(f.Faults))
		for op, sf := range f.Faults {
			o.Faults[op] = Fault{
				Share500: sf.Status500, Share503: sf.Status503, RetryAfter503: time.Duration(sf.RetryAfter503),
				ResetShare: sf.Reset, ResetAfterWorkShare: sf.ResetAfterWork, MalformedShare: sf.Malformed,
				Share500AfterWork: sf.Status500After, Share503AfterWork: sf.Status503After,
				Latency: LatencySpec{
					Fixed: time.Duration(sf.Latency.Fixed), Min: time.Duration(sf.Latency.Min), Max: time.Duration(sf.Latency.Max),
					Mean: time.Duration(sf.Latency.Mean), StdDev: time.Duration(sf.Latency.StdDev),
				},
			}
		}
	}
	for _, out := range f.Outages {
		scope, answer := OutageScope(out.Scope), OutageAnswer(out.Answer)
		if scope == "" {
			scope = OutageAll
		}
		if answer == "" {
			answer = AnswerReset
		}
		o.Outages = append(o.Outages, Outage{From: time.Duration(out.From), To: time.Duration(out.To), Scope: scope, Answer: answer, RetryAfter: time.Duration(out.RetryAfter)})
	}
	if t := f.TokenOutage; t != nil {
		o.TokenOutage = TokenOutage{From: time.Duration(t.From), To: time.Duration(t.To), Share: t.Share, RetryAfter: time.Duration(t.RetryAfter)}
	}
	if p := f.Partial; p != nil {
		o.Partial = Partial{TopLevelErrorShare: p.TopLevelErrorShare, FailedLineShare: p.FailedLineShare,
			ConvertedThenFailedShare: p.ConvertedThenFailedShare, UnknownStatusShare: p.UnknownStatusShare, UnknownStatus: p.UnknownStatus}
	}
	if _, err := o.normalize(); err != nil {
		return Options{}, fmt.Errorf("simulator: scenario: %w", err)
	}
	return o, nil
}
