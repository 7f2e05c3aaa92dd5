package till

import (
	"errors"
	"strings"
	"testing"
)

func TestTechnicianPageOnTheOperatorDisplay(t *testing.T) {
	const token = "abcd-efgh-ijkl-mnop"
	page := func() (string, string, error) { return "127.0.0.1:8080", token, nil }
	cases := []struct {
		name   string
		page   func() (string, string, error)
		signOn [2]string
		keys   string
		want   [2]string // "" for a refusal
		refuse string
	}{
		{"a supervisor sees it at once", page, [2]string{"9", "9999"}, "MENU 15 ENTER",
			[2]string{"page http://127.0.0.1:8080/", token}, ""},
		{"a cashier with a supervisor's approval", page, [2]string{"1", "1234"}, "MENU 15 ENTER 9 ENTER 9999 ENTER",
			[2]string{"page http://127.0.0.1:8080/", token}, ""},
		{"a cashier cannot approve it", page, [2]string{"1", "1234"}, "MENU 15 ENTER 1 ENTER 1234 !ENTER",
			[2]string{}, "not a supervisor"},
		{"a wrong supervisor PIN", page, [2]string{"1", "1234"}, "MENU 15 ENTER 9 ENTER 1111 !ENTER",
			[2]string{}, "PIN"},
		{"a long address alone on the first line", func() (string, string, error) { return "tillbox-s042-t03.shop.example:8080", token, nil },
			[2]string{"9", "9999"}, "MENU 15 ENTER", [2]string{"tillbox-s042-t03.shop.example:8080", token}, ""},
		{"no page on this box", nil, [2]string{"9", "9999"}, "MENU 15 !ENTER", [2]string{}, "no technician page"},
		{"a damaged token file", func() (string, string, error) { return "", "", errors.New("techpage.token holds no token") },
			[2]string{"9", "9999"}, "MENU 15 !ENTER", [2]string{}, "holds no token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.e.cfg.PromptWidth = 40
			h.e.cfg.TechnicianPage = tc.page
			h.signedOn(tc.signOn[0], tc.signOn[1])
			h.do(tc.keys)
			if tc.refuse != "" {
				if !strings.Contains(h.out.Refused, tc.refuse) {
					t.Fatalf("refusal %q, want one saying %q", h.out.Refused, tc.refuse)
				}
				for _, l := range h.out.Operator {
					if strings.Contains(l, token) {
						t.Fatalf("the token shown on a refusal: %q", h.out.Operator)
					}
				}
				return
			}
			if h.out.Operator != tc.want {
				t.Fatalf("display %q, want %q", h.out.Operator, tc.want)
			}
			// The next key leaves it.
			h.do("CLEAR")
			if strings.Contains(h.out.Operator[1], token) {
				t.Fatalf("the token stays after CLEAR: %q", h.out.Operator)
			}
		})
	}
}
