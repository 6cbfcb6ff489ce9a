// Package gen generates realistic, deterministic test data for microbatch:
// clickstream JSON, e-commerce CSV (the Kaggle "eCommerce behavior data from
// multi category store" columns) and IoT sensor JSON.
//
// # Determinism
//
// A generator is a pure function of its name and seed: the same seed gives
// byte-identical records in the same order, run after run. Event times are simulated (they start at a fixed instant per
// dataset and advance by random steps), never read from the clock. The
// random source is PCG from math/rand/v2, whose output is specified; the
// helpers that turn its numbers into choices are this package's own.
//
// # Use
//
//	g, err := gen.New("clickstream", 7)
//	var r gen.Record
//	for i := 0; i < n; i++ {
//		g.Next(&r) // r.Key and r.Value are reused: copy to keep them
//		produce(r.Key, r.Value)
//	}
//
// Next does not allocate once r's buffers have grown to a record's size,
// so benchmarks can produce millions of records without GC noise.
//
// # Keys
//
// Records are keyed by the entity they describe (user for clickstream and
// e-commerce, device for IoT), so a keyed partitioner keeps every entity in
// one partition.
package gen
