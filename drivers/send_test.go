package drivers_test

import (
	"slices"
	"testing"

	"tillbox/drivers"
)

func TestSendNewestDropsTheOldestWhenFull(t *testing.T) {
	ch := make(chan int, 3)
	for i := 1; i <= 5; i++ {
		drivers.SendNewest(ch, i)
	}
	close(ch)
	var got []int
	for v := range ch {
		got = append(got, v)
	}
	if want := []int{3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("channel holds %v, want %v", got, want)
	}
}

func TestSendNewestDoesNotDropWithRoom(t *testing.T) {
	ch := make(chan int, 3)
	drivers.SendNewest(ch, 1)
	drivers.SendNewest(ch, 2)
	if len(ch) != 2 || <-ch != 1 || <-ch != 2 {
		t.Fatal("an event was lost or reordered while the channel had room")
	}
}
