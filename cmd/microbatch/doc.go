// Command microbatch runs micro-batch streaming jobs over Kafka and the
// tools around them (DESIGN.md section 3):
//
//	microbatch run JOB.yaml
//	microbatch broker --listen ADDR [--data-dir DIR] [--topic NAME:PARTITIONS]...
//	microbatch produce --brokers ADDR --topic T --generator clickstream|ecommerce|iot
//	                   [--count N] [--rate N] [--seed S] [--partitions N]
//	microbatch state JOB.yaml [--format table|jsonl|csv]
//	microbatch offsets JOB.yaml [--format table|jsonl]
//	microbatch validate JOB.yaml
//
// # Exit codes
//
// 0 success (also a run or broker stopped by SIGINT/SIGTERM); 1 runtime
// failure; 2 bad usage or an invalid job file.
//
// # Output
//
// Results go to stdout, diagnostics and progress to stderr. `broker`
// prints exactly one line, "listening on HOST:PORT", once it accepts
// connections. `produce` ends with one line on stdout, "produced N records
// to TOPIC in DURATION (R records/s)". `validate` prints "FILE: ok" or one
// "FILE:LINE: KEY: problem" line per problem on stderr.
package main
