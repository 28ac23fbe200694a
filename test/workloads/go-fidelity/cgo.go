//go:build cgo

// Built with CGO_ENABLED=1 (the test's "cgo" flavour), the workload is a cgo binary as
// distributions ship them: linked by the system linker, libc loaded, C frames on some stacks.
package main

// #include <unistd.h>
import "C"

func init() {
	// One real call into C, so the binary's cgo machinery is exercised, not only linked.
	if C.getpid() <= 0 {
		panic("getpid")
	}
}
