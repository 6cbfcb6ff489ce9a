package gen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// errUnknownGenerator is returned by New for a name not in Names().
var errUnknownGenerator = errors.New("unknown generator")

// Record is one generated Kafka record. Next overwrites Key and Value,
// reusing their capacity.
type Record struct {
	Key   []byte
	Value []byte
}

// Generator produces an endless deterministic sequence of records. A
// Generator is not safe for concurrent use; create one per goroutine (with
// different seeds for different data).
type Generator interface {
	// Next replaces r's contents with the next record.
	Next(r *Record)
}

var generators = map[string]func(seed int64) Generator{
	"clickstream": newClickstream,
	"ecommerce":   newEcommerce,
	"iot":         newIoT,
}

// Names returns the generator names New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(generators))
	for n := range generators {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// New returns the named generator seeded with seed.
func New(name string, seed int64) (Generator, error) {
	f, ok := generators[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (want one of %s)", errUnknownGenerator, name, strings.Join(Names(), ", "))
	}
	return f(seed), nil
}

// rng wraps PCG with choice helpers whose results depend only on the PCG
// output (unlike rand.Rand's methods, which are not promised to be stable).
type rng struct{ src *rand.PCG }

func newRNG(seed int64, stream uint64) rng {
	return rng{src: rand.NewPCG(uint64(seed), stream)}
}

// intn returns a number in [0, n). The modulo bias is below 2^-40 for the
// n used here.
func (r rng) intn(n int) int { return int(r.src.Uint64() % uint64(n)) }

// float returns a number in [0, 1).
func (r rng) float() float64 { return float64(r.src.Uint64()>>11) / (1 << 53) }

// cdf is a discrete distribution: cumulative weights for binary search.
type cdf []float64

// zipf weights item i (0-based) by 1/(i+1)^s: a few items are very
// popular, most are rare.
func zipf(n int, s float64) cdf {
	c := make(cdf, n)
	sum := 0.0
	for i := range c {
		sum += math.Pow(float64(i+1), -s)
		c[i] = sum
	}
	return c
}

// weights builds a distribution from relative weights.
func weights(w ...float64) cdf {
	c := make(cdf, len(w))
	sum := 0.0
	for i, x := range w {
		sum += x
		c[i] = sum
	}
	return c
}

// pick draws an index from c.
func (r rng) pick(c cdf) int {
	x := r.float() * c[len(c)-1]
	return sort.SearchFloat64s(c, x)
}
