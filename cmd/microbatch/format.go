package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// writeRecord prints rec as a table (Spark's show layout, every row), JSON
// lines (DESIGN.md section 3: keys are column names, numbers as numbers,
// timestamps as RFC 3339; NaN and infinities, which JSON numbers cannot
// hold, as the strings Spark's JSON writer gives them) or CSV with a
// header (NULL empty, the empty string "").
func writeRecord(w io.Writer, format string, rec arrow.Record) error {
	switch format {
	case "table":
		return engine.WriteTable(w, rec.Schema(), []arrow.Record{rec}, 0, 0)
	case "jsonl":
		bw := bufio.NewWriter(w)
		fields := rec.Schema().Fields()
		for r := 0; r < int(rec.NumRows()); r++ {
			bw.WriteByte('{')
			for c, f := range fields {
				if c > 0 {
					bw.WriteByte(',')
				}
				k, _ := json.Marshal(f.Name)
				bw.Write(k)
				bw.WriteByte(':')
				bw.WriteString(jsonValue(rec.Column(c), r))
			}
			bw.WriteString("}\n")
		}
		return bw.Flush()
	case "csv":
		bw := bufio.NewWriter(w)
		for i, f := range rec.Schema().Fields() {
			if i > 0 {
				bw.WriteByte(',')
			}
			writeCSVField(bw, f.Name, false)
		}
		bw.WriteByte('\n')
		for r := 0; r < int(rec.NumRows()); r++ {
			for c := range rec.Schema().Fields() {
				if c > 0 {
					bw.WriteByte(',')
				}
				col := rec.Column(c)
				writeCSVField(bw, textValue(col, r), col.IsNull(r))
			}
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	return fmt.Errorf("unknown format %q", format)
}

// writeCSVField writes one RFC 4180 field: NULL as nothing, the empty
// string as "" (as Spark's CSV writer does, so the two read back apart),
// and a field with a comma, quote, CR, LF or surrounding space in quotes.
func writeCSVField(w *bufio.Writer, s string, null bool) {
	if null {
		return
	}
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		w.WriteString(s)
		return
	}
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(s, `"`, `""`))
	w.WriteByte('"')
}

// jsonValue renders one cell as a JSON value.
func jsonValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "null"
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Float64:
		f := a.Value(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return `"` + dataframe.FormatDouble(f) + `"` // as Spark's JSON writer: "NaN", "Infinity"
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	}
	b, _ := json.Marshal(textValue(col, i))
	return string(b)
}

// textValue renders one cell as text: timestamps in RFC 3339 (UTC).
func textValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return ""
	}
	switch a := col.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
	case *array.Float64:
		return dataframe.FormatDouble(a.Value(i))
	}
	return col.ValueStr(i)
}

// batchRange is one line of `microbatch offsets --format jsonl`.
type batchRange struct {
	Batch     int64  `json:"batch"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
	Committed bool   `json:"committed"`
}

// writeBatches prints one row per (batch, topic, partition) range.
func writeBatches(w io.Writer, format string, infos []checkpoint.BatchInfo) error {
	var rows []batchRange
	for _, b := range infos {
		ranges := append([]offsets.OffsetRange(nil), b.Plan.Ranges...)
		offsets.SortRanges(ranges)
		for _, r := range ranges {
			rows = append(rows, batchRange{b.Plan.ID, r.Topic, r.Partition, r.From, r.Until, b.Committed})
		}
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "batch\ttopic\tpartition\tfrom\tuntil\toffsets\tcommitted\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%v\t\n", r.Batch, r.Topic, r.Partition, r.From, r.Until, r.Until-r.From, r.Committed)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q", format)
}
