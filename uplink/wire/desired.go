package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"time"
)

// Desired firmware. HQ publishes, retained on each till's desired topic, the firmware
// version the till should run and where to fetch its bundle, signed with HQ's key for
// that one till. A till that is offline finds it when it connects. An empty payload (or a
// Desired without a version) withdraws it: the till keeps what it runs.
//
// The till reports each step of the update as an event of kind EventUpdateProgress whose
// detail is an UpdateReport in JSON.

// KindDesired is the retained per-till desired firmware topic.
const KindDesired Kind = "desired"

// Desired returns the till's desired firmware topic.
func (t Topics) Desired(store, till string) string { return t.Till(store, till, KindDesired) }

// Desired is the firmware one till should run.
type Desired struct {
	V     int    `json:"v"`
	Store string `json:"store"`
	Till  string `json:"till"`
	// Rollout names the rollout that set it ("" when set by hand); progress reports carry it.
	Rollout string `json:"rollout,omitempty"`
	Version string `json:"version"`
	// URL is the bundle's http:// or https:// address; the till fetches it with ranges.
	URL string `json:"url"`
	// SHA256 (lower-case hex) and Size are the whole bundle file's; the till refuses a
	// download that differs before it opens it.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Window is the daily quiet window "HH:MM-HH:MM" (the till's local time, may wrap
	// midnight) in which the till installs; "" installs whenever no sale is open.
	Window string    `json:"window,omitempty"`
	Issued time.Time `json:"issued"`
	Sig    string    `json:"sig,omitempty"`
}

// MaxBundleSize bounds a desired bundle's size (the root filesystem slot is smaller).
const MaxBundleSize = 4 << 30

// The patterns are compiled at their first use, not at the program's start: every tillbox
// links this package, and most runs (a till's start included) never check a Desired.
var (
	hexSHA256  = lazyRegexp(`^[0-9a-f]{64}$`)
	windowSpec = lazyRegexp(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$`)
	versionStr = lazyRegexp(`^v?[0-9]+(\.[0-9]+)*(\+[0-9A-Za-z.-]+)?$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// check is what every Desired with a version must satisfy.
func (d *Desired) check() error {
	const what = "desired"
	switch {
	case d.Version == "":
		return nil
	case len(d.Version) > 64 || !versionStr().MatchString(d.Version):
		return invalid(what, "version %q", clip(d.Version))
	case !hexSHA256().MatchString(d.SHA256):
		return invalid(what, "sha256 is not 64 lower-case hex digits")
	case d.Size <= 0 || d.Size > MaxBundleSize:
		return invalid(what, "size %d", d.Size)
	case d.Window != "" && !windowSpec().MatchString(d.Window):
		return invalid(what, "window %q: want HH:MM-HH:MM", clip(d.Window))
	case len(d.Rollout) > MaxCmdID:
		return invalid(what, "rollout name longer than %d", MaxCmdID)
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(d.URL) > 2048 {
		return invalid(what, "url %q: want an http:// or https:// address", clip(d.URL))
	}
	return nil
}

// EncodeDesired encodes d with v set, after checking it.
func EncodeDesired(d Desired) ([]byte, error) {
	d.V = Version
	if err := d.check(); err != nil {
		return nil, err
	}
	return marshal("desired", &d)
}

// DecodeDesired decodes a desired payload. An empty payload is a withdrawn one: a Desired
// without a version.
func DecodeDesired(p []byte) (Desired, error) {
	var d Desired
	if len(p) == 0 {
		return Desired{V: Version}, nil
	}
	if err := decodeStrict("desired", p, MaxSmallBytes, &d, func() int { return d.V }); err != nil {
		return Desired{}, err
	}
	if err := d.check(); err != nil {
		return Desired{}, err
	}
	return d, nil
}

func desiredMessage(d *Desired) ([]byte, error) {
	u := *d
	u.V, u.Sig = Version, ""
	b, err := json.Marshal(&u)
	if err != nil {
		return nil, fmt.Errorf("wire: sign desired: %w", err)
	}
	return append([]byte("tillbox-desired-v1\n"), b...), nil
}

// SignDesired addresses d to store/till and signs it with HQ's key, so that it is not
// valid for another till.
func SignDesired(key ed25519.PrivateKey, d *Desired, store, till string) error {
	d.Store, d.Till = store, till
	if d.Issued.IsZero() {
		d.Issued = time.Now().UTC().Truncate(time.Second)
	}
	msg, err := desiredMessage(d)
	if err != nil {
		return err
	}
	d.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// VerifyDesired checks that d is signed by HQ's key and addressed to store/till.
func VerifyDesired(pub ed25519.PublicKey, d *Desired, store, till string) error {
	msg, err := desiredMessage(d)
	if err != nil {
		return err
	}
	if err := verify("desired "+clip(d.Version), pub, msg, d.Sig); err != nil {
		return err
	}
	if d.Store != store || d.Till != till {
		return fmt.Errorf("wire: verify desired: %w: addressed to %s/%s, this is %s/%s", ErrIdentity, clip(d.Store), clip(d.Till), store, till)
	}
	return nil
}

// EventUpdateProgress is the event kind of an UpdateReport.
const EventUpdateProgress = "update-progress"

// Steps of an update, in the order a good one takes them. A refused step ends the
// attempt: the bundle was not written to the slot (or, for StepRolledBack, its try
// failed). StepWaiting: downloaded and verified, the till waits for no open sale and its
// quiet window.
const (
	StepDownloading = "downloading"
	StepVerified    = "verified"
	StepWaiting     = "waiting"
	StepInstalled   = "installed"
	StepTried       = "tried"
	StepConfirmed   = "confirmed"
	StepRolledBack  = "rolled-back"
	StepRefused     = "refused"
)

// UpdateReport is one step of a till's update, carried in an event's detail.
type UpdateReport struct {
	Rollout string `json:"rollout,omitempty"`
	Version string `json:"version"`
	Step    string `json:"step"`
	// Bytes of Total downloaded so far (StepDownloading, StepVerified).
	Bytes int64 `json:"bytes,omitempty"`
	Total int64 `json:"total,omitempty"`
	// Error says why a step was refused.
	Error string `json:"error,omitempty"`
}

// Failed reports whether r ends its attempt without the version running.
func (r UpdateReport) Failed() bool { return r.Step == StepRefused || r.Step == StepRolledBack }

// UpdateEvent is the event that carries r.
func UpdateEvent(r UpdateReport) Event {
	sev := SeverityInfo
	if r.Failed() {
		sev = SeverityError
	}
	if len(r.Error) > 1024 {
		r.Error = r.Error[:1024] + "…"
	}
	b, _ := json.Marshal(r) // strings and numbers only
	return Event{Kind: EventUpdateProgress, Severity: sev, Detail: string(b)}
}

// DecodeUpdateReport reads an UpdateReport from an EventUpdateProgress event's detail.
func DecodeUpdateReport(e Event) (UpdateReport, error) {
	var r UpdateReport
	if e.Kind != EventUpdateProgress {
		return r, invalid("update report", "event kind %q", clip(e.Kind))
	}
	if err := json.Unmarshal([]byte(e.Detail), &r); err != nil {
		return r, invalid("update report", "%v", clipErr(err))
	}
	if r.Step == "" {
		return r, missing("update report", "step")
	}
	return r, nil
}
