// Measures the cost of Go runtime operations that the go_runtime probe hooks, in ns per
// operation; run with and without probes attached to see the added cost per event.
// Waits for a line on stdin before measuring so probes can attach first.
//
//	go-overhead                 every operation, default counts
//	go-overhead OP [N]          one operation, N times
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var sink []byte

type op struct {
	name string
	n    int
	run  func(n int)
}

var ops = []op{
	// A 64-byte pointer-free allocation: one mallocgc call each; a refill per 128 objects.
	{"alloc64", 2_000_000, func(n int) {
		for i := 0; i < n; i++ {
			sink = make([]byte, 64)
		}
	}},
	// A 64 KiB allocation: past the small size classes, one allocLarge each.
	{"alloc_large", 20_000, func(n int) {
		for i := 0; i < n; i++ {
			sink = make([]byte, 64<<10)
		}
	}},
	// An unbuffered channel round trip: two parks and two wakeups through ready.
	{"chan_roundtrip", 200_000, func(n int) {
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
	}},
	// A loopback TCP round trip: goroutines parked in netpoll, woken by injectglist.
	{"tcp_roundtrip", 20_000, tcpRoundtrip},
	// A goroutine started and finished: newproc1 and goexit1.
	{"spawn", 200_000, func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go wg.Done()
			wg.Wait()
		}
	}},
	// A yield: goschedImpl puts the goroutine on the global run queue, execute runs it again.
	{"gosched", 200_000, func(n int) {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
	}},
	// A stop-the-world that is not GC, as a library reading MemStats per scrape does.
	{"read_memstats", 1000, func(n int) {
		var m runtime.MemStats
		for i := 0; i < n; i++ {
			runtime.ReadMemStats(&m)
		}
	}},
	// A GC cycle: two stop-the-world pauses, a gcMarkTermination, mcache flushes.
	{"gc_cycle", 100, func(n int) {
		for i := 0; i < n; i++ {
			runtime.GC()
		}
	}},
}

func tcpRoundtrip(n int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			c.Write(buf)
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	for i := 0; i < n; i++ {
		c.Write(buf)
		c.Read(buf)
	}
}

func measure(o op, n int) {
	runtime.GC()
	t := time.Now()
	o.run(n)
	fmt.Printf("%s %.1f\n", o.name, float64(time.Since(t).Nanoseconds())/float64(n))
}

func main() {
	selected := ops
	n := 0
	if len(os.Args) > 1 {
		selected = nil
		for _, o := range ops {
			if o.name == os.Args[1] {
				selected = []op{o}
			}
		}
		if selected == nil {
			fmt.Fprintf(os.Stderr, "unknown operation %q\n", os.Args[1])
			os.Exit(2)
		}
		if len(os.Args) > 2 {
			n, _ = strconv.Atoi(os.Args[2])
		}
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	in.ReadString('\n')
	for _, o := range selected {
		if n > 0 {
			measure(o, n)
		} else {
			measure(o, o.n)
		}
	}
	fmt.Println("end")
}
