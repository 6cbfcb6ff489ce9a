package dataframe_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/dataframe"
)

// The README's function list is functionsMarkdown() verbatim, so the
// documentation cannot drift from the registry.
func TestREADMEFunctionListIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), functionsMarkdown()) {
		t.Fatal("README.md does not contain the current function list; paste the output of functionsMarkdown() (funcs_readme_test.go) under \"Scalar functions\"\n" + functionsMarkdown())
	}
}

// functionsMarkdown renders dataframe.Functions as a Markdown table.
func functionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| group | function | description |\n| --- | --- | --- |\n")
	for _, f := range dataframe.Functions() {
		call := "`" + f.Usage + "`"
		if len(f.Aliases) > 0 {
			call += " (also " + strings.Join(f.Aliases, ", ") + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.Group, call, strings.ReplaceAll(f.Doc, "|", `\|`))
	}
	return b.String()
}
