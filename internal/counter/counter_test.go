package counter

import (
	"sync"
	"testing"
)

func TestSharded(t *testing.T) {
	var c Sharded
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add(2)
			}
		})
	}
	wg.Wait()
	if got := c.Sum(); got != 16000 {
		t.Errorf("Sum = %d; want 16000", got)
	}
}
