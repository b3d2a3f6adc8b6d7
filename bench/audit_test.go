package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestTally(t *testing.T) {
	tl := newTally(100, 5) // owed ids 100..104
	for _, id := range []int64{100, 102, 102, 103, 104, 99, 105} {
		tl.add(id)
	}
	got := tl.result()
	want := deliveryAudit{FirstID: 100, Owed: 5, Read: 7,
		Missing: 1, MissingIDs: []int64{101},
		Duplicates: 1, DuplicateIDs: []int64{102},
		Unexpected: 2, UnexpectedIDs: []int64{99, 105}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got.ok() {
		t.Fatal("an audit with losses is ok")
	}
}

func TestTallyComplete(t *testing.T) {
	tl := newTally(1, 3)
	for _, id := range []int64{3, 1, 2} {
		tl.add(id)
	}
	if a := tl.result(); !a.ok() || a.Read != 3 {
		t.Fatalf("every owed id once: %+v", a)
	}
}

func TestDeliveryNotes(t *testing.T) {
	lost := &deliveryAudit{FirstID: 11, Owed: 20014, Read: 20013, Missing: 1, MissingIDs: []int64{11}}
	tests := []struct {
		name string
		m    measurement
		want []string // substrings, in order; nil for no note
	}{
		{"complete", measurement{Events: 3, Audit: &deliveryAudit{Owed: 3, Read: 3}}, nil},
		{"lost, the wait stalled", measurement{Events: 20013, Incomplete: "x: 20013 of 20014 records, then nothing for 10s", Audit: lost},
			[]string{"LOST: 1 of 20014 owed rows never delivered (id 11;"}},
		{"slow, not lost", measurement{Events: 10, Incomplete: "x: 10 of 12 records after 3m0s", Audit: &deliveryAudit{Owed: 12, Read: 12}},
			[]string{"INCOMPLETE: x: 10 of 12", "2 records arrived after the wait ended"}},
		{"duplicates", measurement{Events: 4, Audit: &deliveryAudit{Owed: 3, Read: 4, Duplicates: 1, DuplicateIDs: []int64{7}}},
			[]string{"DUPLICATES: 1 rows delivered twice (id 7)"}},
		{"no audit", measurement{Incomplete: "timeout"}, []string{"INCOMPLETE: timeout"}},
		{"timed out while delivering: not lost", measurement{Events: 90, TimedOut: true, Incomplete: "x: 90 of 100 records after 6m0s",
			Audit: &deliveryAudit{Owed: 100, Read: 95, Missing: 5, MissingIDs: []int64{96}}},
			[]string{"INCOMPLETE: x: 90 of 100", "5 owed rows not delivered when stopped", "5 records arrived after the wait ended"}},
	}
	for _, tt := range tests {
		got := deliveryNotes(tt.m)
		if len(got) != len(tt.want) {
			t.Errorf("%s: notes %q, want %d", tt.name, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: note %q lacks %q", tt.name, got[i], w)
			}
		}
	}
}
