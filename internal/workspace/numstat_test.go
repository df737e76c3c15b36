package workspace

import (
	"strings"
	"testing"
)

func TestParseNumstat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                string
		files, adds, dels int
	}{
		{"", 0, 0, 0},
		{"1\t2\ta.txt\x00", 1, 1, 2},
		{"1\t0\ta.txt\x00-\t-\timage.bin\x00", 2, 1, 0},
		// A rename: empty path, then the old and new paths.
		{"3\t1\t\x00old name.txt\x00new\tname.txt\x00" + "0\t4\tgone.txt\x00", 2, 3, 5},
		{"garbage\x00", 0, 0, 0},
	} {
		files, adds, dels := parseNumstat(tc.in)
		if files != tc.files || adds != tc.adds || dels != tc.dels {
			t.Errorf("parseNumstat(%q) = %d, %d, %d; want %d, %d, %d",
				tc.in, files, adds, dels, tc.files, tc.adds, tc.dels)
		}
	}
}

// FuzzParseNumstat checks that any input parses without panicking and
// counts at most one file per record and no negative line counts.
func FuzzParseNumstat(f *testing.F) {
	f.Add("1\t2\ta.txt\x00")
	f.Add("3\t1\t\x00old\x00new\x00")
	f.Add("-\t-\tbin\x00\x00\t\t")
	f.Fuzz(func(t *testing.T, s string) {
		files, adds, dels := parseNumstat(s)
		if adds < 0 || dels < 0 {
			t.Fatalf("parseNumstat(%q) = %d additions, %d deletions", s, adds, dels)
		}
		if records := strings.Count(s, "\x00") + 1; files > records {
			t.Fatalf("parseNumstat(%q) counted %d files in %d records", s, files, records)
		}
	})
}
