package jobfile_test

import (
	"errors"
	"testing"

	"github.com/microbatch/microbatch/internal/jobfile"
)

// FuzzParse: for any input, Parse does not panic and returns either a job
// or a non-empty Errors whose every entry names the file and a line >= 1.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(minimal))
	f.Add([]byte("source: &a\n  kafka: *a\n"))
	f.Add([]byte("query: |\n  x\n---\n- 1\n"))
	f.Add([]byte("source:\n  kafka:\n    assign: '{\"a\":[1,1]}'\n    startingOffsets: '{\"a\":{\"x\":1}}'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := jobfile.Parse("job.yaml", data, jobfile.Options{Dir: "/", Env: func(string) (string, bool) { return "", false }})
		if err == nil {
			if j == nil {
				t.Fatal("nil job without error")
			}
			return
		}
		var es jobfile.Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %v is not a non-empty Errors", err)
		}
		for _, e := range es {
			if e.File != "job.yaml" || e.Line < 1 {
				t.Fatalf("error without position: %#v", e)
			}
		}
	})
}
