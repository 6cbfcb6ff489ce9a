package jobfile_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/jobfile"
)

// The README's key reference is markdown() verbatim, so the
// documentation cannot drift from the keys validation accepts.
func TestREADMEKeyTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), markdown()) {
		t.Fatal("README.md does not contain the current key table; paste the output of markdown() (readme_test.go) under \"Every key\"")
	}
}

// markdown renders Keys as a Markdown table for the README.
func markdown() string {
	var b strings.Builder
	b.WriteString("| key | type | default | Spark | description |\n| --- | --- | --- | --- | --- |\n")
	for _, k := range jobfile.Keys() {
		def := k.Default
		if k.Required {
			def = "required"
		}
		esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.Path, esc(k.Type), esc(def), esc(k.Spark), esc(k.Doc))
	}
	return b.String()
}
