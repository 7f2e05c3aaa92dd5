package techpage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tillbox/board"
	"tillbox/image/update"
	"tillbox/ledger"
)

const host = "127.0.0.1:8080"

// rig is a page over fixed devices and ledger figures, with tests that count their runs.
type rig struct {
	t      *testing.T
	srv    *Server
	token  string
	data   string
	runs   map[string]*atomic.Int64
	block  chan struct{} // the print test waits on it when set
	failed bool          // the drawer test fails
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, data: t.TempDir(), runs: map[string]*atomic.Int64{"print": {}, "drawer": {}, "display": {}}}
	tok, err := LoadToken(r.data)
	if err != nil {
		t.Fatal(err)
	}
	r.token = tok
	logs := NewLogRing(10)
	slog.New(logs.Handler(slog.NewTextHandler(io.Discard, nil))).Info("printer online", "port", "/dev/ttyUSB0")
	ev := NewEventTap(nil)
	ev.Write([]byte(`{"t":"uplink","online":true,"watermark":40}` + "\n"))
	o := Options{
		Token: tok, Version: "1.4.2", Board: "rpi4", Store: "s042", Till: "t03", Data: r.data,
		Layout: filepath.Join(r.data, "no-layout.json"), Uplink: "tcp://hq:1883",
		Devices: func() []board.DeviceHealth {
			return []board.DeviceHealth{{Name: "printer", Kind: "serial", Port: "/dev/ttyUSB0", State: board.StatePaperOut, Detail: "paper out"},
				{Name: "scanner", Kind: "hid", State: board.StateOK}}
		},
		Ledger: func() (ledger.Stats, error) {
			return ledger.Stats{Store: "s042", Till: "t03", Entries: 57, FirstSeq: 1, LastSeq: 57, Watermark: 40, Backlog: 17, PendingJobs: 2, FileBytes: 98304}, nil
		},
		Logs: logs, Events: ev,
	}
	for _, name := range []string{"print", "drawer", "display"} {
		o.Tests = append(o.Tests, Test{Name: name, Label: "Test " + name, Run: func(ctx context.Context) (string, error) {
			r.runs[name].Add(1)
			if name == "print" && r.block != nil {
				<-r.block
			}
			if name == "drawer" && r.failed {
				return "", errors.New("kicked, but it did not open within 3s")
			}
			return name + " done", nil
		}})
	}
	if mod != nil {
		mod(&o)
	}
	r.srv = New(o)
	return r
}

// req is a request from the loopback to the page on the loopback; edit changes it first.
func (r *rig) req(method, target string, form url.Values, edit func(*http.Request)) *httptest.ResponseRecorder {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	q := httptest.NewRequest(method, "http://"+host+target, body)
	q.RemoteAddr = "127.0.0.1:50123"
	if form != nil {
		q.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if edit != nil {
		edit(q)
	}
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, q)
	return w
}

func bearer(tok string) func(*http.Request) {
	return func(q *http.Request) { q.Header.Set("Authorization", "Bearer "+tok) }
}

// browser signs on with ?token= and returns an edit that makes a request as the signed-on
// browser would send it from the page.
func (r *rig) browser() func(*http.Request) {
	r.t.Helper()
	w := r.req("GET", "/?token="+url.QueryEscape(r.token), nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		r.t.Fatalf("sign-on by ?token=: %d %v", w.Code, w.Header())
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != CookieName || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		r.t.Fatalf("cookie %+v", cs)
	}
	c := cs[0]
	return func(q *http.Request) {
		q.AddCookie(c)
		q.Header.Set("Origin", "http://"+host)
		q.Header.Set("Sec-Fetch-Site", "same-origin")
	}
}

func TestThePageNeedsTheBoxsToken(t *testing.T) {
	r := newRig(t, nil)
	for name, edit := range map[string]func(*http.Request){
		"no token":      nil,
		"wrong bearer":  bearer("aaaa-bbbb-cccc-dddd"),
		"empty bearer":  bearer(""),
		"basic auth":    func(q *http.Request) { q.SetBasicAuth("tech", r.token) },
		"forged cookie": func(q *http.Request) { q.AddCookie(&http.Cookie{Name: CookieName, Value: r.token}) },
		"cookie of a box": func(q *http.Request) {
			q.AddCookie(&http.Cookie{Name: CookieName, Value: mac("aaaa-bbbb-cccc-dddd", "session")})
		},
	} {
		w := r.req("GET", "/", nil, edit)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `action="/signin"`) || strings.Contains(w.Body.String(), "printer") {
			t.Errorf("%s: %d\n%s", name, w.Code, w.Body)
		}
	}
	if w := r.req("GET", "/?token=aaaa-bbbb-cccc-dddd", nil, nil); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "not this box&#39;s token") || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong ?token=: %d %v\n%s", w.Code, w.Result().Cookies(), w.Body)
	}
	if w := r.req("GET", "/status.json", nil, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("status.json without a token: %d", w.Code)
	}
	// The token as typed from the display: any case, with or without the dashes.
	typed := strings.ToUpper(strings.ReplaceAll(r.token, "-", ""))
	for _, tok := range []string{r.token, typed} {
		if w := r.req("GET", "/", nil, bearer(tok)); w.Code != http.StatusOK {
			t.Errorf("bearer %q: %d", tok, w.Code)
		}
	}
	// The sign-in form, from the page, sets the session cookie; from elsewhere it is refused.
	same := func(q *http.Request) { q.Header.Set("Origin", "http://"+host) }
	if w := r.req("POST", "/signin", url.Values{"token": {typed}}, same); w.Code != http.StatusSeeOther || len(w.Result().Cookies()) != 1 {
		t.Errorf("sign-in: %d %v", w.Code, w.Result().Cookies())
	}
	if w := r.req("POST", "/signin", url.Values{"token": {"nope"}}, same); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("sign-in with a wrong token: %d", w.Code)
	}
	evil := func(q *http.Request) { q.Header.Set("Origin", "http://evil.example") }
	if w := r.req("POST", "/signin", url.Values{"token": {r.token}}, evil); w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Errorf("cross-site sign-in: %d", w.Code)
	}
	b := r.browser()
	if w := r.req("GET", "/", nil, b); w.Code != http.StatusOK {
		t.Errorf("with the cookie: %d", w.Code)
	}
	if w := r.req("POST", "/signout", nil, b); w.Code != http.StatusSeeOther || len(w.Result().Cookies()) != 1 || w.Result().Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: %d %v", w.Code, w.Result().Cookies())
	}
}

func TestThePageShowsDevicesLedgerUplinkLogAndWhatIsNotReported(t *testing.T) {
	r := newRig(t, nil)
	w := r.req("GET", "/", nil, bearer(r.token))
	body := w.Body.String()
	for _, want := range []string{
		`<tr data-device="printer"><td>printer</td><td class="state-bad">paper-out</td><td>serial</td><td>/dev/ttyUSB0</td><td>paper out</td></tr>`,
		`<tr data-device="scanner"><td>scanner</td><td class="state-ok">ok</td>`,
		`<td class="num" id="ledger-entries">57</td>`,
		`<td class="num" id="ledger-seq">1..57</td>`,
		`<td class="num" id="ledger-watermark">40</td>`,
		`<td class="num" id="ledger-backlog">17</td>`,
		`<td class="num" id="ledger-jobs">2</td>`,
		`<td id="ledger-oldest">none</td>`,
		`tcp://hq:1883:`, `<span class="ok">online</span>`,
		`not reported (no net.json`,
		`Not an A/B image`,
		`msg=&#34;printer online&#34; port=/dev/ttyUSB0`,
		`<b id="version">1.4.2</b>`, `<b id="board">rpi4</b>`, `tillbox s042/t03: technician page`,
		`<button name="run" value="print">Test print</button>`,
		`name="csrf" value="` + csrf(r.token) + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if w.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}

	// A ledger that does not answer says why, and the rest of the page is still there.
	r = newRig(t, func(o *Options) {
		o.Ledger = func() (ledger.Stats, error) { return ledger.Stats{}, errors.New("app: ask: no running till answers") }
	})
	body = r.req("GET", "/", nil, bearer(r.token)).Body.String()
	if !strings.Contains(body, `id="ledger-error">Ledger figures unavailable: app: ask: no running till answers`) || !strings.Contains(body, `data-device="printer"`) {
		t.Errorf("ledger error:\n%s", body)
	}
}

func TestNetworkTimeAndBootStateAreReadFromTheirFiles(t *testing.T) {
	r := newRig(t, nil)
	os.WriteFile(filepath.Join(r.data, NetFile), []byte(`{"link":"up","dhcp":{"address":"192.168.7.20/24","router":"192.168.7.1"},"dns":["192.168.7.1","9.9.9.9"],"ntp":{"synced":true,"offset_ms":3.5}}`), 0o644)
	dir := t.TempDir()
	l := update.Layout{Slots: update.Slots{A: filepath.Join(dir, "a"), B: filepath.Join(dir, "b"), Env: filepath.Join(dir, "grubenv")},
		Booted: "B", Trying: true, Version: "1.5.0", Board: "rpi4"}
	if err := l.Slots.Init("1.4.2"); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout.json")
	if err := update.WriteLayout(layout, l); err != nil {
		t.Fatal(err)
	}
	r.srv.o.Layout = layout
	body := r.req("GET", "/", nil, bearer(r.token)).Body.String()
	for _, want := range []string{
		"<tr><td>dhcp.address</td><td>192.168.7.20/24</td></tr>",
		"<tr><td>dns</td><td>192.168.7.1, 9.9.9.9</td></tr>",
		"<tr><td>link</td><td>up</td></tr>",
		"<tr><td>ntp.offset_ms</td><td>3.5</td></tr>",
		"<tr><td>ntp.synced</td><td>true</td></tr>",
		`<td id="slot-booted">B (trying an update)</td>`,
		"<tr><td>confirmed slot</td><td>A 1.4.2</td></tr>",
		"<tr><td>image</td><td>1.5.0 for rpi4</td></tr>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "not reported") {
		t.Error("a reported status shows as not reported")
	}
	// A damaged status file says so; it is not taken as absent.
	os.WriteFile(filepath.Join(r.data, NetFile), []byte(`{"link":`), 0o644)
	body = r.req("GET", "/", nil, bearer(r.token)).Body.String()
	if !strings.Contains(body, "net.json does not parse") {
		t.Errorf("damaged net.json:\n%s", body)
	}
}

func TestTestsNeedTheSessionThisOriginAndTheCSRFField(t *testing.T) {
	r := newRig(t, nil)
	b := r.browser()
	field := url.Values{"csrf": {csrf(r.token)}}
	refused := map[string]struct {
		form url.Values
		edit func(*http.Request)
		code int
	}{
		"not signed on":      {field, func(q *http.Request) { q.Header.Set("Origin", "http://"+host) }, http.StatusUnauthorized},
		"no csrf field":      {url.Values{}, b, http.StatusForbidden},
		"wrong csrf field":   {url.Values{"csrf": {mac("aaaa-bbbb-cccc-dddd", "csrf")}}, b, http.StatusForbidden},
		"another origin":     {field, func(q *http.Request) { b(q); q.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden},
		"another port":       {field, func(q *http.Request) { b(q); q.Header.Set("Origin", "http://127.0.0.1:9999") }, http.StatusForbidden},
		"null origin":        {field, func(q *http.Request) { b(q); q.Header.Set("Origin", "null") }, http.StatusForbidden},
		"cross-site fetch":   {field, func(q *http.Request) { b(q); q.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden},
		"no origin, referer": {field, func(q *http.Request) { b(q); q.Header.Del("Origin"); q.Header.Del("Sec-Fetch-Site") }, http.StatusForbidden},
		"wrong bearer":       {nil, bearer("aaaa-bbbb-cccc-dddd"), http.StatusUnauthorized},
	}
	for name, c := range refused {
		if w := r.req("POST", "/test/print", c.form, c.edit); w.Code != c.code {
			t.Errorf("%s: %d, want %d: %s", name, w.Code, c.code, w.Body)
		}
	}
	if n := r.runs["print"].Load(); n != 0 {
		t.Fatalf("refused requests ran the test %d times", n)
	}
	// From the page: it runs once, and the page says how it went.
	if w := r.req("POST", "/test/print", field, b); w.Code != http.StatusSeeOther {
		t.Fatalf("test print from the page: %d %s", w.Code, w.Body)
	}
	withReferer := func(q *http.Request) { b(q); q.Header.Del("Origin"); q.Header.Set("Referer", "http://"+host+"/") }
	r.failed = true
	if w := r.req("POST", "/test/drawer", field, withReferer); w.Code != http.StatusSeeOther {
		t.Fatalf("drawer test with a Referer: %d %s", w.Code, w.Body)
	}
	if r.runs["print"].Load() != 1 || r.runs["drawer"].Load() != 1 || r.runs["display"].Load() != 0 {
		t.Fatalf("runs: print %d drawer %d display %d", r.runs["print"].Load(), r.runs["drawer"].Load(), r.runs["display"].Load())
	}
	body := r.req("GET", "/", nil, b).Body.String()
	for _, want := range []string{
		`<tr data-test="print"><td>Test print</td><td class="ok">ok</td><td>print done</td>`,
		`<tr data-test="drawer"><td>Test drawer</td><td class="fail">FAILED</td><td>kicked, but it did not open within 3s</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, `data-test="display"`) {
		t.Error("a test never run shows a result")
	}
	// A script with the token in its header: no cookie or origin, a JSON answer.
	w := r.req("POST", "/test/display", nil, bearer(r.token))
	var res struct {
		Test, Result string
		OK           bool
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != http.StatusOK || err != nil || !res.OK || res.Result != "display done" {
		t.Fatalf("bearer test: %d %s", w.Code, w.Body)
	}
	if w := r.req("POST", "/test/drawer", nil, bearer(r.token)); w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "did not open") {
		t.Fatalf("failed bearer test: %d %s", w.Code, w.Body)
	}
	if w := r.req("POST", "/test/reboot", nil, bearer(r.token)); w.Code != http.StatusNotFound {
		t.Fatalf("unknown test: %d", w.Code)
	}
	if w := r.req("GET", "/test/print", nil, bearer(r.token)); w.Code != http.StatusMethodNotAllowed || r.runs["print"].Load() != 1 {
		t.Fatalf("GET of a test: %d, %d runs", w.Code, r.runs["print"].Load())
	}
}

func TestOneTestAtATime(t *testing.T) {
	r := newRig(t, nil)
	r.block = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.req("POST", "/test/print", nil, bearer(r.token))
	}()
	for r.runs["print"].Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if w := r.req("POST", "/test/display", nil, bearer(r.token)); w.Code != http.StatusConflict || r.runs["display"].Load() != 0 {
		t.Errorf("a second test while one runs: %d", w.Code)
	}
	close(r.block)
	wg.Wait()
	if w := r.req("POST", "/test/display", nil, bearer(r.token)); w.Code != http.StatusOK {
		t.Errorf("after the first test: %d", w.Code)
	}
}

func TestOffTheLoopbackIsRefusedUnlessAllowed(t *testing.T) {
	r := newRig(t, nil)
	cases := map[string]func(*http.Request){
		"peer off the loopback": func(q *http.Request) { q.RemoteAddr = "192.0.2.7:40000" },
		"IPv6 peer":             func(q *http.Request) { q.RemoteAddr = "[2001:db8::7]:40000" },
		"rebinding Host":        func(q *http.Request) { q.Host = "tillbox.evil.example:8080" },
		"LAN Host":              func(q *http.Request) { q.Host = "192.168.7.20:8080" },
	}
	for name, edit := range cases {
		w := r.req("GET", "/", nil, func(q *http.Request) { bearer(r.token)(q); edit(q) })
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only on the loopback") {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
		if w := r.req("POST", "/test/print", nil, func(q *http.Request) { bearer(r.token)(q); edit(q) }); w.Code != http.StatusForbidden {
			t.Errorf("%s: test: %d", name, w.Code)
		}
	}
	if r.runs["print"].Load() != 0 {
		t.Fatal("a refused request ran a test")
	}
	for _, h := range []string{"localhost:8080", "[::1]:8080", "127.0.0.2"} {
		if w := r.req("GET", "/", nil, func(q *http.Request) { bearer(r.token)(q); q.Host = h }); w.Code != http.StatusOK {
			t.Errorf("Host %s: %d", h, w.Code)
		}
	}
	r = newRig(t, func(o *Options) { o.AllowRemote = true })
	for name, edit := range cases {
		if w := r.req("GET", "/", nil, func(q *http.Request) { bearer(r.token)(q); edit(q) }); w.Code != http.StatusOK {
			t.Errorf("allowed, %s: %d", name, w.Code)
		}
		if w := r.req("GET", "/", nil, edit); w.Code != http.StatusUnauthorized {
			t.Errorf("allowed, %s, no token: %d", name, w.Code)
		}
	}
}

func TestStatusJSONHasTheFiguresAndNoCSRFField(t *testing.T) {
	r := newRig(t, nil)
	w := r.req("GET", "/status.json", nil, bearer(r.token))
	var s struct {
		Devices []board.DeviceHealth
		Ledger  ledger.Stats
		Uplink  struct{ Online, Known bool }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || len(s.Devices) != 2 || s.Ledger.Backlog != 17 || !s.Uplink.Online {
		t.Fatalf("status.json %v: %s", err, w.Body)
	}
	if strings.Contains(w.Body.String(), csrf(r.token)) || strings.Contains(w.Body.String(), r.token) {
		t.Fatal("status.json carries a secret")
	}
}

func TestAReplacedTokenTakesEffectAtOnceAndAnUnreadableOneLetsNobodyIn(t *testing.T) {
	var r *rig
	r = newRig(t, func(o *Options) { o.TokenFrom = func() (string, error) { return LoadToken(r.data) } })
	b := r.browser()
	if w := r.req("GET", "/", nil, b); w.Code != http.StatusOK {
		t.Fatalf("signed on: %d", w.Code)
	}
	renewed, err := NewToken(r.data)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*http.Request){"old cookie": b, "old token": bearer(r.token)} {
		if w := r.req("GET", "/", nil, edit); w.Code != http.StatusUnauthorized {
			t.Errorf("%s after the token was replaced: %d", name, w.Code)
		}
	}
	if w := r.req("GET", "/", nil, bearer(renewed)); w.Code != http.StatusOK {
		t.Errorf("new token: %d", w.Code)
	}
	os.WriteFile(filepath.Join(r.data, TokenFile), []byte("\n"), 0o600)
	for name, edit := range map[string]func(*http.Request){
		"empty bearer": bearer(""), "new token": bearer(renewed),
		"empty cookie": func(q *http.Request) { q.AddCookie(&http.Cookie{Name: CookieName, Value: ""}) },
	} {
		if w := r.req("GET", "/", nil, edit); w.Code != http.StatusUnauthorized {
			t.Errorf("%s with a damaged token file: %d", name, w.Code)
		}
	}
}
