// Package techpage is the technician's web page on the box, served by `tillbox run`: each
// device and its state, a test print, drawer and display test, network and time status
// (NetFile, written by the image's init), the firmware version and A/B slot, the ledger's
// figures and backlog, and the last log lines (LogRing, a slog handler wrapper).
//
// Guarantees:
//   - Nothing is shown and no test runs without the box's token (LoadToken: random, made
//     at first start, kept in DATA/techpage.token with mode 0600): given as ?token= (then a
//     session cookie, HttpOnly and SameSite=Strict, bound to the token), from the sign-in
//     form, or as "Authorization: Bearer TOKEN". A wrong or missing token gets 401.
//   - A test (POST /test/NAME) from a browser needs the session cookie, an Origin (or
//     Referer) of this page, Sec-Fetch-Site same-origin when sent, and the form's CSRF
//     field; any one missing is refused with 403. One test runs at a time.
//   - Unless Options.AllowRemote, a request whose peer address or Host header is not the
//     loopback is refused with 403 before anything else (a page on 127.0.0.1 cannot be
//     reached through DNS rebinding).
//   - The page only reads: the ledger's figures, the boot state and NetFile are read, never
//     written; the tests are the caller's (Options.Tests).
//
// The token reaches a technician through `tillbox techpage token` on the console, on a
// scripted till the events stream's "techpage" line, and on the operator display: MENU 15
// of the sale engine (package till), a supervisor's, puts the page's address and
// FormatToken's 19 characters on the display's two lines (app.Options.TechnicianPage, read
// from the token file each time).
package techpage
