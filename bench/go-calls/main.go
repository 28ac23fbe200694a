// A Go loop calling work() N times, for per-hit probe cost: waits for a line on stdin (so a
// probe can attach), runs, prints ns per call.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

//go:noinline
func leaf(n int) int { return n + 1 }

// work has a frame, so it has Go's stack-check prologue.
//
//go:noinline
func work(n int) int { return leaf(n) * 2 }

func main() {
	n := 200000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	in.ReadString('\n')
	t := time.Now()
	s := 0
	for i := 0; i < n; i++ {
		s += work(i)
	}
	fmt.Printf("ns_per_call %.1f %d\n", float64(time.Since(t).Nanoseconds())/float64(n), s%7)
}
