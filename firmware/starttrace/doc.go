// Package starttrace times the phases of `tillbox run` from the process's exec to the
// till's first operator prompt (the READY the stage-1 init waits for), so that start-up can
// be profiled on the board itself, where no profiler runs.
//
// It is off unless the environment variable TILLBOX_TRACE is set: "1" (or any value other
// than a path) writes the lines to standard error, a value starting with "/" appends them
// to that file. Each line is
//
//	tillbox-trace: +T.Tms PHASE (+D.Dms)
//
// T the time since the process was executed (the kernel's start time of the process, to
// its clock tick of 10 ms; the first line says how long the runtime and the package
// initialisers took before main), D the time since the previous mark. Mark costs nothing
// when tracing is off, and never fails: a trace file that cannot be written is ignored.
package starttrace
