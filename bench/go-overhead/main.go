// Measures the cost of Go runtime operations that the go_runtime probe hooks, in ns per
// operation; run with and without the probe attached to see the added cost per event.
// Waits for a line on stdin before each measurement so the probe can attach first.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"time"
)

var sink []byte

func measure(name string, n int, f func(int)) {
	runtime.GC()
	t := time.Now()
	f(n)
	fmt.Printf("%s %.1f\n", name, float64(time.Since(t).Nanoseconds())/float64(n))
}

func main() {
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	in.ReadString('\n')
	// A 64-byte pointer-free allocation: one mallocgc call each (exact mode probes it).
	measure("alloc64", 2_000_000, func(n int) {
		for i := 0; i < n; i++ {
			sink = make([]byte, 64)
		}
	})
	// An unbuffered channel round trip: two parks and two wakeups (blocked-time probes).
	measure("chan_roundtrip", 200_000, func(n int) {
		a, b := make(chan int), make(chan int)
		go func() {
			for v := range a {
				b <- v
			}
		}()
		for i := 0; i < n; i++ {
			a <- i
			<-b
		}
		close(a)
	})
	// A GC cycle: two stop-the-world pauses, a gcMarkTermination, mcache flushes.
	measure("gc_cycle", 50, func(n int) {
		for i := 0; i < n; i++ {
			runtime.GC()
		}
	})
	fmt.Println("end")
}
