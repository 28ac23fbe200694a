// Fidelity workload for the go_runtime probe. It does known work in phases, each started by
// a line on stdin, and prints its own runtime/metrics as JSON lines so the test can compare
// what the probe measured from outside with what the runtime says of itself.
//
//	(start)    → allocates and collects before any probe attaches: counters must include it
//	ready      → prints {"phase":"ready", metrics…}; waits for a line
//	work       → sleeps, channel waits, mutex waits, known allocations, GCs; prints "done" + metrics
//	burst      → holds every P busy with runnable goroutines queued behind; prints "burst"; waits
//	release    → lets the burst finish; prints "final" + metrics; then each line "threads" prints
//	             {"phase":"threads","threads":N} (the runtime's Ms now), "procs N" sets GOMAXPROCS
//	             and prints {"phase":"procs","gomaxprocs":N}, any other line exits
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

const (
	waiters  = 40
	waitTime = 300 * time.Millisecond
)

var keep [][]byte

// A goroutine leak: parked on a channel nobody sends on, from phase "work" until exit.
const leaked = 25

var (
	leak     = make(chan struct{})
	leakedAt time.Time
)

// Wall time the workload's goroutines spent in each kind of wait, measured by themselves:
// the ground truth for blocked time (a nominal 300 ms sleep lasts longer on a busy machine).
var waitedNs = map[string]*int64{"sleep": new(int64), "chan receive": new(int64), "mutex": new(int64)}

func timed(kind string, f func()) {
	t := time.Now()
	f()
	atomic.AddInt64(waitedNs[kind], int64(time.Since(t)))
}

type node struct {
	next *node
	pad  [120]byte
}

func snapshot(phase string) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/pauses:seconds"},
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/gc/heap/allocs:objects"},
		{Name: "/gc/heap/goal:bytes"},
		// From Go 1.21; KindBad (left out of the output) before.
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/gomemlimit:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/sched/latencies:seconds"},
	}
	metrics.Read(samples)
	out := map[string]interface{}{"phase": phase}
	out["allocs_bytes"] = samples[0].Value.Uint64()
	out["gc_cycles"] = samples[1].Value.Uint64()
	var n uint64
	for _, c := range samples[2].Value.Float64Histogram().Counts {
		n += c
	}
	out["pause_count"] = n
	out["pause_counts"], out["pause_buckets"] = histogram(samples[2])
	out["latency_counts"], out["latency_buckets"] = histogram(samples[9])
	out["goroutines"] = samples[3].Value.Uint64()
	// Ms, as client_golang's go_threads counts them (the runtime's list of Ms: with cgo it holds
	// an extra M for C threads calling into Go, which has no OS thread until one does).
	out["threads"], _ = runtime.ThreadCreateProfile(nil)
	for i, key := range map[int]string{4: "allocs_objects", 5: "heap_goal_bytes", 6: "gogc_percent", 7: "gomemlimit_bytes", 8: "heap_live_bytes"} {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			out[key] = samples[i].Value.Uint64()
		}
	}
	out["read_memstats"] = readMemStats
	// GC pause time as the runtime sums it (work.pauseNS), from the last ReadMemStats: reading
	// it here would stop the world once more.
	out["pause_total_ns"] = lastMemStats.PauseTotalNs
	out["memstats_numgc"] = lastMemStats.NumGC
	out["leaked"] = 0
	if !leakedAt.IsZero() {
		out["leaked"] = leaked
		out["leaked_age_seconds"] = time.Since(leakedAt).Seconds()
	}
	waited := map[string]float64{}
	for k, v := range waitedNs {
		waited[k] = float64(atomic.LoadInt64(v)) / 1e9
	}
	out["waited_seconds"] = waited
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
}

// A runtime/metrics histogram's counts and bucket bounds. JSON has no infinities: the open ends
// of the first and last bucket become ±1e300.
func histogram(s metrics.Sample) ([]uint64, []float64) {
	h := s.Value.Float64Histogram()
	buckets := make([]float64, len(h.Buckets))
	for i, b := range h.Buckets {
		buckets[i] = math.Max(-1e300, math.Min(1e300, b))
	}
	return h.Counts, buckets
}

// readMemStats is how many non-GC stop-the-worlds phase "done" adds (ReadMemStats stops the world).
const readMemStats = 5

var lastMemStats runtime.MemStats

// Work done before the probe attaches: ~12 MB and a few GC cycles the counters must not miss.
// All of it stays live: freed, it wakes the background scavenger, whose sleeps between work are
// parks with reason "sleep" that the workload's own timing of its sleeps does not include.
var startupKeep [][]byte

func startup() {
	for i := 0; i < 12000; i++ {
		startupKeep = append(startupKeep, make([]byte, 1000))
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
}

func main() {
	in := bufio.NewReader(os.Stdin)
	wait := func() { in.ReadString('\n') }
	startup()
	runtime.GC()
	runtime.ReadMemStats(&lastMemStats)
	snapshot("ready")
	wait()

	var wg sync.WaitGroup
	// 1. Sleeps: waiters × waitTime in "sleep".
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); timed("sleep", func() { time.Sleep(waitTime) }) }()
	}
	wg.Wait()
	// 2. Channel receives: waiters × waitTime in "chan receive".
	ch := make(chan struct{})
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); timed("chan receive", func() { <-ch }) }()
	}
	timed("sleep", func() { time.Sleep(waitTime) })
	close(ch)
	wg.Wait()
	// 3. Mutex: waiters × waitTime in "sync.Mutex.Lock" (semacquire before Go 1.20).
	var mu sync.Mutex
	mu.Lock()
	var started int32
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); atomic.AddInt32(&started, 1); timed("mutex", mu.Lock); mu.Unlock() }()
	}
	for atomic.LoadInt32(&started) < waiters {
		timed("sleep", func() { time.Sleep(time.Millisecond) })
	}
	timed("sleep", func() { time.Sleep(waitTime) })
	mu.Unlock()
	wg.Wait()
	// 4. Allocation: 200 MB in 1000-byte noscan slices and 128-byte pointerful nodes, a few kept.
	for i := 0; i < 100000; i++ {
		b := make([]byte, 1000)
		if i%1000 == 0 {
			keep = append(keep, b)
		}
	}
	var head *node
	for i := 0; i < 800000; i++ {
		head = &node{next: head}
		if i%1000 == 0 {
			head = nil
		}
	}
	// 5. The leak, then stop-the-worlds that are not GC: a library reading MemStats per scrape does this.
	leakedAt = time.Now()
	for i := 0; i < leaked; i++ {
		go func() { <-leak }()
	}
	runtime.GC()
	runtime.GC()
	for i := 0; i < readMemStats; i++ {
		runtime.ReadMemStats(&lastMemStats)
	}
	snapshot("done")
	wait()

	// 6. Burst: GOMAXPROCS spinners occupy every P; 200 goroutines queue behind them.
	var stop int32
	procs := runtime.GOMAXPROCS(0)
	for i := 0; i < procs; i++ {
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
			}
		}()
	}
	for i := 0; i < 200; i++ {
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
			}
		}()
	}
	fmt.Println(`{"phase":"burst"}`)
	wait()
	atomic.StoreInt32(&stop, 1)
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	snapshot("final")
	// The runtime may start an M after "final" (a spinning M for a timer, a template thread):
	// the test compares ours with the runtime's count at the same moment, not with a stale one.
	// "procs N" sets GOMAXPROCS, as an operator's library (automaxprocs) may at any time.
	for {
		line, err := in.ReadString('\n')
		var procs int
		switch {
		case err != nil:
			return
		case line == "threads\n":
			n, _ := runtime.ThreadCreateProfile(nil)
			fmt.Printf("{\"phase\":\"threads\",\"threads\":%d}\n", n)
		case func() bool { _, e := fmt.Sscanf(line, "procs %d\n", &procs); return e == nil }():
			runtime.GOMAXPROCS(procs)
			fmt.Printf("{\"phase\":\"procs\",\"gomaxprocs\":%d}\n", runtime.GOMAXPROCS(0))
		default:
			return
		}
	}
}
