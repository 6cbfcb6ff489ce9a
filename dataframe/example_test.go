package dataframe_test

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
)

// A brand funnel over e-commerce CSV records: decode, run one task, merge it
// into the running state, persist the changes and print the result.
func Example() {
	schema, err := dataframe.ParseSchema("event_type STRING, brand STRING, price DOUBLE")
	if err != nil {
		panic(err)
	}
	isType := func(t string) dataframe.Expr { return dataframe.Col("event_type").Eq(dataframe.Lit(t)) }
	df := dataframe.Source("events", schema).
		GroupBy(dataframe.Col("brand")).
		Agg(
			dataframe.Sum(dataframe.When(isType("view"), dataframe.Lit(1)).Otherwise(dataframe.Lit(0))).As("views"),
			dataframe.Sum(dataframe.When(isType("purchase"), dataframe.Lit(1)).Otherwise(dataframe.Lit(0))).As("purchases"),
		).
		Select(dataframe.Col("brand"), dataframe.Col("purchases").Div(dataframe.Col("views")).As("conversion"))
	prog, err := dataframe.Compile(df, dataframe.Complete)
	if err != nil {
		panic(err)
	}
	fmt.Println("reads:", prog.InputColumns())

	mem := memory.NewGoAllocator()
	dec, err := dataframe.NewDecoder(mem, schema, dataframe.DecoderOptions{Format: dataframe.FormatCSV, Columns: prog.InputColumns()})
	if err != nil {
		panic(err)
	}
	defer dec.Release()
	for i, line := range []string{"view,acme,1.5", "view,acme,1.5", "purchase,acme,1.5", "view,zeta,2"} {
		if err := dec.Append(&dataframe.RecordMeta{Topic: "events", Offset: int64(i)}, []byte(line)); err != nil {
			panic(err)
		}
	}
	rec := dec.Flush()
	task := prog.NewTask(mem)
	if err := task.Consume(rec); err != nil {
		panic(err)
	}
	rec.Release()
	state := prog.NewState(mem)
	if err := state.Merge(task); err != nil {
		panic(err)
	}
	task.Release()
	state.Changes(nil, func(_ uint16, key, value []byte, _ bool) error {
		fmt.Printf("persist %q (%d bytes)\n", key, len(value))
		return nil
	})
	state.ResetChanged()
	out, err := state.Result(false)
	if err != nil {
		panic(err)
	}
	defer out.Release()
	for i := 0; i < int(out.NumRows()); i++ {
		fmt.Println(out.Column(0).ValueStr(i), out.Column(1).ValueStr(i))
	}
	// Output:
	// reads: [brand event_type]
	// persist "\x01acme\x00\x01" (6 bytes)
	// persist "\x01zeta\x00\x01" (6 bytes)
	// acme 0.5
	// zeta 0
}

// Plans print as canonical text, which checkpoints use as the query's
// fingerprint.
func ExampleDataFrame_String() {
	schema, _ := dataframe.ParseSchema("page STRING, action STRING")
	df := dataframe.Source("clicks", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Col("page")).
		Agg(dataframe.Count().As("views"))
	fmt.Println(df)
	fmt.Println(df.Columns())
	// Output:
	// Source clicks [page STRING, action STRING]
	// Filter (action = 'view')
	// Aggregate [page] [count(*) AS views]
	// [page views]
}
