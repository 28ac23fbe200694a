// A Go service instrumented the usual way: client_golang's promhttp.Handler on the default
// registry (its Go and process collectors). The go_runtime probe's client_golang naming
// profile is compared with what this service exposes about itself.
//
//	(start)  allocates and collects before any probe attaches; prints its listen address
//	/work    allocates and collects again (after the probe attached); answers "ok"
//	/metrics client_golang's own exposition
//	stdout   "goroutines N" every 100 ms: the count while no scrape runs (a scrape's own
//	         goroutines are in client_golang's go_goroutines)
//
// Built in GOPATH mode against Debian's golang-github-prometheus-client-golang-dev.
package main

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var keep [][]byte

func work() {
	for i := 0; i < 20000; i++ {
		b := make([]byte, 1000)
		if i%100 == 0 {
			keep = append(keep, b)
		}
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
}

func main() {
	work()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	http.Handle("/metrics", promhttp.Handler())
	http.HandleFunc("/work", func(w http.ResponseWriter, _ *http.Request) {
		work()
		fmt.Fprintln(w, "ok")
	})
	fmt.Println(l.Addr().String())
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			fmt.Println("goroutines", runtime.NumGoroutine())
		}
	}()
	panic(http.Serve(l, nil))
}
