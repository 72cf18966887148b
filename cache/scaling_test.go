package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// failoverRun is what a load saw while a server was lost.
type failoverRun struct {
	fetches, fetchErrs int64         // Fetch calls and their errors
	writes, writeErrs  int64         // Set calls and their failures
	writesBack         time.Duration // from the loss to the last failed write (0: none failed)
	firstErr           error         // the first Fetch error
}

// underFailover runs a Fetch load (8 goroutines, paced so that the client's
// own goroutines keep a core on 2-CPU machines) and a writer (a batch of
// 16 Sets of keys spread over the slots every 10 ms) on c, calls lose
// once both have run for 300 ms, and goes on until the writes have all
// landed for settle (or until 20 s after lose). It reports the Fetch
// errors and how long after lose the writes failed.
func underFailover(t *testing.T, c *cache.RedisCache, lose func(), settle time.Duration) failoverRun {
	t.Helper()
	search := cache.Search[string, string](c)
	var run failoverRun
	var fetches, fetchErrs, writes, writeErrs atomic.Int64
	var lastFail atomic.Int64 // UnixNano of the last failed write
	var firstErr atomic.Pointer[error]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Microsecond):
				}
				q := fmt.Sprint("load ", g, " ", i%200)
				_, err := search.Fetch(context.Background(), q, func(context.Context) (string, error) { return "answer " + q, nil })
				fetches.Add(1)
				if err != nil {
					fetchErrs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for j := range 16 {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				err := search.Set(ctx, fmt.Sprint("write ", i, " ", j), "w")
				cancel()
				writes.Add(1)
				if err != nil {
					writeErrs.Add(1)
					lastFail.Store(time.Now().UnixNano())
				}
			}
		}
	})
	time.Sleep(300 * time.Millisecond)
	lost := time.Now()
	lose()
	for deadline := lost.Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		last := time.Unix(0, lastFail.Load())
		if time.Since(lost) > settle && time.Since(last) > settle {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	close(stop)
	wg.Wait()
	run.fetches, run.fetchErrs, run.writes, run.writeErrs = fetches.Load(), fetchErrs.Load(), writes.Load(), writeErrs.Load()
	if last := lastFail.Load(); last > lost.UnixNano() {
		run.writesBack = time.Unix(0, last).Sub(lost)
	}
	if e := firstErr.Load(); e != nil {
		run.firstErr = *e
	}
	return run
}

// check fails t unless every Fetch was answered and the writes landed
// again within 5 s of the loss, and reports the figures.
func (run failoverRun) check(t *testing.T, what string) {
	t.Helper()
	if run.fetchErrs != 0 {
		t.Errorf("%s: %d of %d Fetches failed (first: %v); want 0", what, run.fetchErrs, run.fetches, run.firstErr)
	}
	if run.writesBack > 5*time.Second {
		t.Errorf("%s: writes failed until %v after the loss; want them back within 5 s", what, round(run.writesBack))
	}
	report(t, what, fmt.Sprintf("%d Fetches, 0 errors; %d of %d writes failed, the last %v after the loss",
		run.fetches, run.writeErrs, run.writes, round(run.writesBack)))
}

// promotedAfter starts watching s, a replica, from now on, and returns
// how long it took to answer ROLE as a primary (zero until it has, or
// after 20 s without).
func promotedAfter(s *redistest.Server) *atomic.Int64 {
	var took atomic.Int64
	lost := time.Now()
	go func() {
		for time.Since(lost) < 20*time.Second {
			if role, err := s.CLI("ROLE"); err == nil && strings.HasPrefix(role, "master") {
				took.Store(int64(time.Since(lost)))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return &took
}

// commandCalls returns how many times s has run command (INFO
// commandstats), for telling which server a read went to.
func commandCalls(t *testing.T, s *redistest.Server, command string) int {
	t.Helper()
	info, err := s.CLI("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}
