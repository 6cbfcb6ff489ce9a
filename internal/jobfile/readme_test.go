package jobfile_test

import (
	"os"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/jobfile"
)

// The README's key reference is jobfile.Markdown() verbatim, so the
// documentation cannot drift from the keys validation accepts.
func TestREADMEKeyTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), jobfile.Markdown()) {
		t.Fatal("README.md does not contain the current key table; paste the output of jobfile.Markdown() under \"Every key\"")
	}
}
