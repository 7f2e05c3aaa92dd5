module tillbox

go 1.26.8

require (
	go.bug.st/serial v1.8.0
	golang.org/x/sys v0.45.0
)
