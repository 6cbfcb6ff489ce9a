package main

// The program's whole output is deterministic: the generator's seed fixes
// the records, their keys fix the partitions, and maxRatePerPartition
// fixes the batches.
func Example() {
	main()
	// Output:
	// batch 0: read 4000 records
	//   /products/1    316
	//   /              269
	//   /cart          229
	// batch 1: read 4000 records
	//   /products/1    617
	//   /              567
	//   /cart          480
	// batch 2: read 2000 records
	//   /products/1    744
	//   /              714
	//   /cart          602
}
