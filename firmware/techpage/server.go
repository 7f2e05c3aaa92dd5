package techpage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"tillbox/board"
	"tillbox/firmware/config"
	"tillbox/image/update"
	"tillbox/ledger"
)

//go:embed templates/*.html
var templates embed.FS

// pages are the page's templates, parsed at the first page served rather than at the
// till's start, which the box's boot waits for. They are compiled in: a template that
// does not parse fails the package's tests (TestTemplatesParse).
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.Local().Format("2006-01-02 15:04:05 MST")
		},
	}).ParseFS(templates, "templates/*.html"))
})

// CookieName is the page's session cookie.
const CookieName = "tillbox_tech"

// testTimeout bounds one test the page runs.
const testTimeout = 30 * time.Second

// Options configure the page.
type Options struct {
	// Token is the box's token (LoadToken). TokenFrom, when set, is asked instead at each
	// request, so a token replaced on the box (tillbox techpage token --new) takes effect
	// at once; when it fails, every request is refused as unsigned.
	Token     string
	TokenFrom func() (string, error)
	// AllowRemote answers requests whose peer or Host is off the loopback.
	AllowRemote bool

	Version, Board, Store, Till string
	// Data is the data directory, where NetFile is read.
	Data string
	// Layout is the A/B layout file the stage-1 init writes (default update.LayoutFile).
	Layout string
	// Uplink says where the till syncs to: a broker address, or "" for none.
	Uplink string

	// Devices reports each device's state; Ledger the ledger's figures. Either may be nil.
	Devices func() []board.DeviceHealth
	Ledger  func() (ledger.Stats, error)
	// Tests are the buttons, in order.
	Tests []Test

	Logs   *LogRing  // nil: no log lines
	Events *EventTap // nil: no uplink state or recent events
	Now    func() time.Time
}

// Test is one of the page's test buttons: a POST to /test/NAME runs it.
type Test struct {
	Name  string // in the URL: print, drawer, display
	Label string // on the button
	// Run does the test and says what happened; an error is a failed test.
	Run func(ctx context.Context) (string, error)
}

// Server is the technician page's HTTP handler.
type Server struct {
	o   Options
	mux *http.ServeMux

	running sync.Mutex // one test at a time
	mu      sync.Mutex
	results map[string]result
}

type result struct {
	At   time.Time
	OK   bool
	Text string
}

// New returns the page's handler.
func New(o Options) *Server {
	if o.Layout == "" {
		o.Layout = update.LayoutFile
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, results: map[string]result{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.page)
	m.HandleFunc("GET /status.json", s.statusJSON)
	m.HandleFunc("POST /signin", s.signin)
	m.HandleFunc("POST /signout", s.signout)
	m.HandleFunc("POST /test/{name}", s.runTest)
	s.mux = m
	return s
}

// token is the box's token now, "" when there is none to be had.
func (s *Server) token() string {
	if s.o.TokenFrom == nil {
		return s.o.Token
	}
	t, err := s.o.TokenFrom()
	if err != nil {
		return ""
	}
	return t
}

// session is the session cookie's value, an HMAC of the token; csrf is the forms' hidden
// field, another. Both change with the token.
func session(token string) string { return mac(token, "session") }
func csrf(token string) string    { return mac(token, "csrf") }

// check reports whether typed is the box's token; an empty token matches nothing.
func check(typed, box string) bool { return box != "" && sameToken(typed, box) }

func mac(token, purpose string) string {
	h := hmac.New(sha256.New, []byte(normalToken(token)))
	h.Write([]byte("tillbox technician page " + purpose))
	return hex.EncodeToString(h.Sum(nil))
}

// ServeHTTP refuses a request off the loopback (peer or Host) unless AllowRemote, then
// serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if !s.o.AllowRemote {
		if why := offLoopback(r); why != "" {
			http.Error(w, "technician page: refused: "+why+"; the page answers only on the loopback unless technician.allow_remote is set", http.StatusForbidden)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// offLoopback says why r did not come from and to the loopback, or "".
func offLoopback(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if ip := net.ParseIP(peer); ip == nil || !ip.IsLoopback() {
		return "peer " + peer + " is not on the loopback"
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !config.LoopbackHost(strings.Trim(host, "[]")) {
		return "Host " + r.Host + " is not a loopback name"
	}
	return ""
}

// authed reports whether r carries the token (Authorization: Bearer) or the session cookie;
// bearer is true for the first.
func (s *Server) authed(r *http.Request) (ok, bearer bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		tok, found := strings.CutPrefix(a, "Bearer ")
		return found && check(tok, s.token()), true
	}
	if c, err := r.Cookie(CookieName); err == nil {
		box := s.token()
		return box != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(session(box))) == 1, false
	}
	return false, false
}

// sameOrigin reports whether a browser's request came from this page: Sec-Fetch-Site, when
// sent, is same-origin, and Origin (or, without it, Referer) names this host. A request that
// sends none of them is not taken as a browser's.
func sameOrigin(r *http.Request) bool {
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" {
		return false
	}
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	if from == "" || from == "null" {
		return false
	}
	u, err := url.Parse(from)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// page is the page, or the sign-in form with 401. GET /?token=T signs on and redirects to
// /, so the token does not stay in the address bar.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("token"); tok != "" {
		box := s.token()
		if !check(tok, box) {
			s.signinForm(w, "That is not this box's token.")
			return
		}
		s.setCookie(w, session(box), 12*3600)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if ok, _ := s.authed(r); !ok {
		s.signinForm(w, "")
		return
	}
	s.render(w, http.StatusOK, "page.html", s.snapshot())
}

func (s *Server) signinForm(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="tillbox technician page"`)
	s.render(w, http.StatusUnauthorized, "signin.html", map[string]any{"Msg": msg, "Store": s.o.Store, "Till": s.o.Till})
}

func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var b strings.Builder
	if err := pages().ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "technician page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "technician page: refused: the sign-in did not come from this page", http.StatusForbidden)
		return
	}
	box := s.token()
	if !check(r.PostFormValue("token"), box) {
		s.signinForm(w, "That is not this box's token.")
		return
	}
	s.setCookie(w, session(box), 12*3600)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "technician page: refused: the sign-out did not come from this page", http.StatusForbidden)
		return
	}
	s.setCookie(w, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// runTest runs one test. A browser's request needs the session cookie, this page's origin
// and the form's CSRF field; a request with the token in its Authorization header (a
// script, which no other site can make a browser send) needs only that.
func (s *Server) runTest(w http.ResponseWriter, r *http.Request) {
	ok, bearer := s.authed(r)
	if !ok {
		http.Error(w, "technician page: sign on with the box's token first", http.StatusUnauthorized)
		return
	}
	if !bearer {
		if !sameOrigin(r) {
			http.Error(w, "technician page: refused: the request did not come from this page", http.StatusForbidden)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(csrf(s.token()))) != 1 {
			http.Error(w, "technician page: refused: the form's check field is missing or wrong; reload the page", http.StatusForbidden)
			return
		}
	}
	name := r.PathValue("name")
	var t *Test
	for i := range s.o.Tests {
		if s.o.Tests[i].Name == name {
			t = &s.o.Tests[i]
		}
	}
	if t == nil {
		http.Error(w, "technician page: no test "+name, http.StatusNotFound)
		return
	}
	if !s.running.TryLock() {
		http.Error(w, "technician page: another test is running; try again when it is done", http.StatusConflict)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
	text, err := t.Run(ctx)
	cancel()
	s.running.Unlock()
	res := result{At: s.o.Now(), OK: err == nil, Text: text}
	if err != nil {
		res.Text = err.Error()
	}
	s.mu.Lock()
	s.results[name] = res
	s.mu.Unlock()
	if bearer {
		w.Header().Set("Content-Type", "application/json")
		code := http.StatusOK
		if err != nil {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"test": name, "ok": res.OK, "result": res.Text})
		return
	}
	http.Redirect(w, r, "/#tests", http.StatusSeeOther)
}

func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	if ok, _ := s.authed(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tillbox technician page"`)
		http.Error(w, "technician page: sign on with the box's token first", http.StatusUnauthorized)
		return
	}
	snap := s.snapshot()
	snap.CSRF = ""
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(snap)
}
