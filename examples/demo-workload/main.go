// demo-workload: a small Go service-like program for probeflow's examples. Every tick it
// handles a burst of "requests" (goroutines that allocate, wait on channels, take a mutex and
// sleep), so the Go runtime has allocations, GC cycles, parked goroutines and run-queue
// activity to observe. Like a service whose metrics library reads runtime.MemStats (expvar,
// older client_golang), it also reads them every -memstats, which stops the world outside GC.
// Runs until killed, or for -duration.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"time"
)

var sink [][]byte

//go:noinline
func handle(id int, mu *sync.Mutex, done chan<- int) {
	buf := make([]byte, 1024+rand.Intn(64*1024))
	mu.Lock()
	sink = append(sink, buf)
	if len(sink) > 256 {
		sink = sink[128:]
	}
	mu.Unlock()
	time.Sleep(time.Duration(rand.Intn(5)) * time.Millisecond)
	done <- id
}

func main() {
	requests := flag.Int("requests", 200, "requests per tick")
	tick := flag.Duration("tick", 200*time.Millisecond, "time between bursts")
	duration := flag.Duration("duration", 0, "stop after this long (0: run until killed)")
	memstats := flag.Duration("memstats", time.Second, "time between runtime.ReadMemStats calls (0: never)")
	flag.Parse()
	if *memstats > 0 {
		go func() {
			var m runtime.MemStats
			for range time.Tick(*memstats) {
				runtime.ReadMemStats(&m)
			}
		}()
	}
	fmt.Printf("demo-workload pid %d: %d requests every %s\n", os.Getpid(), *requests, *tick)
	var mu sync.Mutex
	start := time.Now()
	for *duration == 0 || time.Since(start) < *duration {
		done := make(chan int)
		for i := 0; i < *requests; i++ {
			go handle(i, &mu, done)
		}
		for i := 0; i < *requests; i++ {
			<-done
		}
		time.Sleep(*tick)
	}
}
