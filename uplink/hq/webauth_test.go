package hq_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tillbox/uplink/hq"
)

func TestWebAuth(t *testing.T) {
	user, err := hq.HashSecret("open sesame 42")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := hq.HashSecret("token-token-token")
	if strings.Contains(user, "sesame") || !strings.HasPrefix(user, "pbkdf2-sha256$600000$") {
		t.Fatalf("hash %q", user)
	}
	a, err := hq.ParseWebAuth([]byte("# dashboard\nops:" + user + "\n\nbearer:" + tok + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inside")) }))
	for _, c := range []struct {
		name string
		set  func(r *http.Request)
		want int
	}{
		{"none", func(r *http.Request) {}, 401},
		{"user", func(r *http.Request) { r.SetBasicAuth("ops", "open sesame 42") }, 200},
		{"user again (remembered)", func(r *http.Request) { r.SetBasicAuth("ops", "open sesame 42") }, 200},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("ops", "open sesame 43") }, 401},
		{"unknown user", func(r *http.Request) { r.SetBasicAuth("bearer", "token-token-token") }, 401},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer token-token-token") }, 200},
		{"wrong token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer token-token-tokeN") }, 401},
		{"password as token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer open sesame 42") }, 401},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		c.set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
		if w.Code == 401 && (w.Header().Get("WWW-Authenticate") == "" || strings.Contains(w.Body.String(), "inside")) {
			t.Errorf("%s: a refusal without a challenge, or with the page", c.name)
		}
	}
	for _, bad := range []string{"", "# nothing\n", "ops\n", "ops:plain-password\n", "ops:pbkdf2-sha256$10$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5\n",
		"ops:pbkdf2-sha256$600000$!!$a2V5\n"} {
		if _, err := hq.ParseWebAuth([]byte(bad)); !errors.Is(err, hq.ErrAuthFile) {
			t.Errorf("%q: %v, want ErrAuthFile", bad, err)
		}
	}
}
