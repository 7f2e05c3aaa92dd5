package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tillbox/firmware/app"
	"tillbox/firmware/techpage"
)

// chromium is Debian's chromium package (scripts/deps.sh installs it).
const chromium = "/usr/bin/chromium"

// pageTill is a `tillbox run --script -` whose script is fed line by line.
type pageTill struct {
	t      *testing.T
	data   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	acks   chan string
	done   chan error
	n      int // script lines sent
	listen string
	token  string
}

// startPageTill starts the real binary on the sim board, offline, with the technician
// page configured by technician (a JSON object), and waits for the page's address.
func startPageTill(t *testing.T, bin, technician string) *pageTill {
	t.Helper()
	p := &pageTill{t: t, data: t.TempDir(), acks: make(chan string, 100), done: make(chan error, 1)}
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(`{"uplink":{"broker":"","embedded":false},"technician":`+technician+`}`), 0o600)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	p.cmd = exec.Command(bin, "run", "--data", p.data, "--config", cfg, "--script", "-", "--events", events, "--log", filepath.Join(p.data, "tillbox.log"))
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(p.data, "tillbox.log"))
			t.Logf("stderr:\n%s\nlog:\n%s", stderr.String(), b)
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.acks <- sc.Text()
		}
		close(p.acks)
		p.done <- p.cmd.Wait()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for p.listen == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no techpage event in %s", events)
		}
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(events)
		for _, l := range strings.Split(string(b), "\n") {
			var e struct{ T, Listen, Token, Err string }
			if json.Unmarshal([]byte(l), &e) == nil && e.T == "techpage" {
				if e.Err != "" {
					t.Fatalf("the page did not start: %s", e.Err)
				}
				p.listen, p.token = e.Listen, e.Token
			}
		}
	}
	return p
}

// do sends script lines and waits for each one's acknowledgement.
func (p *pageTill) do(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		p.n++
		fmt.Fprintln(p.stdin, l)
		want := fmt.Sprintf("ok %d %s", p.n, l)
		select {
		case got := <-p.acks:
			if got != want {
				p.t.Fatalf("script: %q, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			p.t.Fatalf("script: no acknowledgement of %q", l)
		}
	}
}

// stop ends the script and waits for the till to exit.
func (p *pageTill) stop() {
	p.t.Helper()
	p.stdin.Close()
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("till: %v", err)
		}
	case <-time.After(40 * time.Second):
		p.t.Fatal("the till did not stop at the script's end")
	}
}

var noRedirect = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get requests url with the headers given as name, value pairs.
func get(t *testing.T, method, target string, body io.Reader, hdr ...string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), resp
}

// browse runs headless Chromium on url with extra flags and returns its standard output.
func browse(t *testing.T, target string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1100,1400"}, extra...)
	cmd := exec.CommandContext(ctx, chromium, append(args, target)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
	}
	return out.String()
}

// TestTheTechnicianPageOnTheRealTillInChromium runs the till on the sim board with its page
// on the loopback, sells, and reads the page as a technician's browser does: refused
// without the box's token, it lists the five devices and the ledger's figures as the
// running till reports them, and its test print comes out on the sim printer's roll.
func TestTheTechnicianPageOnTheRealTillInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: install Debian's chromium package (scripts/deps.sh) to run the technician page's browser test", chromium)
	}
	bin := buildTillbox(t)
	p := startPageTill(t, bin, `{"listen":"127.0.0.1:0"}`)
	p.do("signon 1 1234", "scan 5901234123457", "key 3 QTY", "scan 4006381333931", "key SUBTOTAL CASH", "drawer close", "wait printed")
	base := "http://" + p.listen

	// The token the scripted till reported is the box's, as the console command prints it.
	out, err := exec.Command(bin, "techpage", "token", "--data", p.data).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != p.token || p.token == "" {
		t.Fatalf("techpage token: %q %v; the till said %q", out, err, p.token)
	}
	if fi, err := os.Stat(filepath.Join(p.data, techpage.TokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}

	for name, hdr := range map[string][]string{
		"no token":    nil,
		"wrong token": {"Authorization", "Bearer aaaa-bbbb-cccc-dddd"},
	} {
		if code, body, _ := get(t, "GET", base+"/", nil, hdr...); code != http.StatusUnauthorized || strings.Contains(body, "ledger-entries") {
			t.Errorf("%s: %d", name, code)
		}
	}
	if code, _, _ := get(t, "GET", base+"/?token=aaaabbbbccccdddd", nil); code != http.StatusUnauthorized {
		t.Errorf("wrong ?token=: %d", code)
	}
	// Off the loopback: a Host that is not the loopback's is refused, right token or not;
	// and the page is not reachable on the box's other addresses at all.
	if code, body, _ := get(t, "GET", base+"/", nil, "Authorization", "Bearer "+p.token, "Host", "tillbox.example:8080"); code != http.StatusForbidden {
		t.Errorf("non-loopback Host: %d %s", code, body)
	}
	if ip := lanAddress(); ip != "" {
		_, port, _ := net.SplitHostPort(p.listen)
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the page answers on %s", ip)
		}
	}

	// What the page should show, as `tillbox ledger stats` gets it from the running till.
	out, err = exec.Command(bin, "ledger", "stats", "--json", "--data", p.data).Output()
	var st statsJSON
	if err != nil || json.Unmarshal(out, &st) != nil || !strings.Contains(st.AnsweredBy, app.ControlSocket) || st.Entries < 3 {
		t.Fatalf("ledger stats: %s %v", out, err)
	}
	dom := browse(t, base+"/?token="+url.QueryEscape(p.token), "--dump-dom")
	want := []string{
		"<title>tillbox s001/t01: technician page</title>",
		`<b id="board">sim</b>`, `<b id="version">test-1</b>`,
		fmt.Sprintf(`<td class="num" id="ledger-entries">%d</td>`, st.Entries),
		fmt.Sprintf(`<td class="num" id="ledger-seq">%d..%d</td>`, st.FirstSeq, st.LastSeq),
		fmt.Sprintf(`<td class="num" id="ledger-backlog">%d</td>`, st.Backlog),
		fmt.Sprintf(`<td class="num" id="ledger-jobs">%d</td>`, st.PendingJobs),
		"not reported (no net.json", "Not an A/B image", "Uplink: none configured",
		`msg="technician page"`,
	}
	for _, d := range []string{"printer", "scanner", "display", "drawer", "keypad"} {
		want = append(want, fmt.Sprintf(`<tr data-device="%s"><td>%s</td><td class="state-ok">ok</td>`, d, d))
	}
	for _, w := range want {
		if !strings.Contains(dom, w) {
			t.Errorf("the page in Chromium lacks %s", w)
		}
	}
	if n := strings.Count(dom, "<tr data-device="); n != 5 {
		t.Errorf("%d device rows, want 5", n)
	}
	if t.Failed() {
		t.Fatalf("DOM:\n%s", dom)
	}
	shot := filepath.Join(t.TempDir(), "techpage.png")
	browse(t, base+"/?token="+url.QueryEscape(p.token), "--screenshot="+shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 5000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if dir := os.Getenv("TILLBOX_ARTIFACTS"); dir != "" {
		b, _ := os.ReadFile(shot)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "techpage.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		shot = filepath.Join(dir, "techpage.png")
	}
	t.Logf("technician page screenshot: %s", shot)

	// The test print, as the browser posts the page's form: the session cookie from the
	// token, the page's origin and the form's CSRF field.
	code, _, resp := get(t, "GET", base+"/?token="+p.token, nil)
	cookies := resp.Cookies()
	if code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("sign-on: %d %v", code, cookies)
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value
	_, page, _ := get(t, "GET", base+"/", nil, "Cookie", cookie)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", page)
	}
	roll := filepath.Join(p.data, app.SimRollFile)
	before := countIn(roll, "TILLBOX SELF TEST")
	form := func(v url.Values) io.Reader { return strings.NewReader(v.Encode()) }
	ct := "application/x-www-form-urlencoded"
	// Without the field, or from another origin, nothing is printed.
	if code, _, _ := get(t, "POST", base+"/test/print", form(url.Values{}), "Cookie", cookie, "Origin", base, "Content-Type", ct); code != http.StatusForbidden {
		t.Errorf("test print without the CSRF field: %d", code)
	}
	if code, _, _ := get(t, "POST", base+"/test/print", form(url.Values{"csrf": {m[1]}}), "Cookie", cookie, "Origin", "http://evil.example", "Content-Type", ct); code != http.StatusForbidden {
		t.Errorf("test print from another origin: %d", code)
	}
	if code, body, _ := get(t, "POST", base+"/test/print", form(url.Values{"csrf": {m[1]}}), "Cookie", cookie, "Origin", base, "Sec-Fetch-Site", "same-origin", "Content-Type", ct); code != http.StatusSeeOther {
		t.Fatalf("test print: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for countIn(roll, "TILLBOX SELF TEST") != before+1 {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(roll)
			t.Fatalf("the sim printer's roll has %d test pages, want %d:\n%s", countIn(roll, "TILLBOX SELF TEST"), before+1, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, page, _ = get(t, "GET", base+"/", nil, "Cookie", cookie); !strings.Contains(page, `<tr data-test="print"><td>Test print</td><td class="ok">ok</td><td>test page printed</td>`) {
		t.Errorf("the page does not report the test print:\n%s", page)
	}
	// The drawer test's opening is journaled with its cause, as any kick of the till's.
	if code, body, _ := get(t, "POST", base+"/test/drawer", nil, "Authorization", "Bearer "+p.token); code != http.StatusOK || !strings.Contains(body, "kicked, opened") {
		t.Fatalf("drawer test: %d %s", code, body)
	}
	// The display test shows its patterns and puts back what the till showed.
	if code, body, _ := get(t, "POST", base+"/test/display", nil, "Authorization", "Bearer "+p.token); code != http.StatusOK || !strings.Contains(body, "the till's layout back") {
		t.Fatalf("display test: %d %s", code, body)
	}
	// A token replaced on the console takes effect on the running till at once.
	out, err = exec.Command(bin, "techpage", "token", "--new", "--data", p.data).Output()
	renewed := strings.TrimSpace(string(out))
	if err != nil || renewed == p.token {
		t.Fatalf("techpage token --new: %q %v", out, err)
	}
	if code, _, _ := get(t, "GET", base+"/", nil, "Cookie", cookie); code != http.StatusUnauthorized {
		t.Errorf("the old token's cookie after --new: %d", code)
	}
	if code, _, _ := get(t, "GET", base+"/", nil, "Authorization", "Bearer "+renewed); code != http.StatusOK {
		t.Errorf("the new token: %d", code)
	}
	p.stop()
	out, err = exec.Command(bin, "ledger", "export", "--data", p.data).Output()
	if err != nil || !strings.Contains(string(out), "opened: technician page test") {
		t.Fatalf("the journal lacks the drawer test's opening (%v):\n%s", err, out)
	}
}

// TestTheTechnicianPageOffTheLoopbackOnlyWhenConfigured: with allow_remote the page
// listens on every address and answers a request whose Host is not the loopback's, still
// only with the token.
func TestTheTechnicianPageOffTheLoopbackOnlyWhenConfigured(t *testing.T) {
	bin := buildTillbox(t)
	// Not configured: a till asked to listen off the loopback does not start.
	cfg := filepath.Join(t.TempDir(), "till.json")
	os.WriteFile(cfg, []byte(`{"technician":{"listen":"0.0.0.0:0"}}`), 0o600)
	out, err := exec.Command(bin, "run", "--config", cfg, "--data", t.TempDir(), "--script", os.DevNull).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set technician.allow_remote") {
		t.Fatalf("listen off the loopback without allow_remote: %v\n%s", err, out)
	}
	p := startPageTill(t, bin, `{"listen":"0.0.0.0:0","allow_remote":true}`)
	_, port, _ := net.SplitHostPort(p.listen)
	bases := []string{"http://127.0.0.1:" + port}
	if ip := lanAddress(); ip != "" {
		bases = append(bases, "http://"+net.JoinHostPort(ip, port))
	} else {
		t.Log("no address off the loopback on this machine: only the Host header is checked")
	}
	for _, base := range bases {
		if code, _, _ := get(t, "GET", base+"/", nil, "Host", "tillbox-s001-t01.lan"); code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d", base, code)
		}
		if code, body, _ := get(t, "GET", base+"/", nil, "Host", "tillbox-s001-t01.lan", "Authorization", "Bearer "+p.token); code != http.StatusOK || !strings.Contains(body, `data-device="keypad"`) {
			t.Errorf("%s with the token: %d", base, code)
		}
	}
	p.stop()
}

// lanAddress is one of the machine's IPv4 addresses off the loopback, or "".
func lanAddress() string {
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func countIn(path, s string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), s)
}
