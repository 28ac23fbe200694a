// Test workload: like calls.c, in Go. Waits for a line on stdin, calls work(i) N times,
// prints "done", waits for another line, exits.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

//go:noinline
func double(n int) int { return n * 2 }

// work calls another function, so it has a frame and the stack-check prologue the probe
// must skip.
//
//go:noinline
func work(n int) int { return double(n) }

func main() {
	n := 1000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Printf("ready %d\n", os.Getpid())
	if _, err := in.ReadString('\n'); err != nil {
		os.Exit(1)
	}
	s := 0
	for i := 0; i < n; i++ {
		s += work(i)
	}
	fmt.Printf("done %d\n", s)
	in.ReadString('\n')
}
