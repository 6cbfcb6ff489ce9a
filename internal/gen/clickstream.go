package gen

import (
	"strconv"
	"time"
)

// clickstream emits web analytics events keyed by user:
//
//	{"timestamp":"2024-01-01T00:00:00.007Z","userid":"u4821","page":"/products/42","action":"view"}
//
// 100,000 users and 1,000 products, both Zipf-distributed (a few users and
// products account for most events); pages are mostly product pages;
// actions are 75% view, 17% click, 6% add_to_cart, 2% purchase. Event time
// starts at 2024-01-01T00:00:00Z and advances 0-19 ms per record.
type clickstream struct {
	r        rng
	clock    *clock
	users    cdf
	products cdf
	pages    cdf
	actions  cdf
}

const (
	clickUsers    = 100000
	clickProducts = 1000
)

var clickCategories = []string{
	"electronics", "books", "clothing", "home", "garden", "toys", "sports",
	"beauty", "grocery", "automotive", "music", "movies", "health", "office",
	"pets", "jewelry", "shoes", "computers", "phones", "kitchen",
}

// Page kinds, in the order of clickstream.pages' weights.
const (
	pageHome = iota
	pageProduct
	pageCategory
	pageSearch
	pageCart
	pageCheckout
)

var clickActions = []string{"view", "click", "add_to_cart", "purchase"}

func newClickstream(seed int64) Generator {
	return &clickstream{
		r:        newRNG(seed, 1),
		clock:    newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2006-01-02T15:04:05", "Z", true),
		users:    zipf(clickUsers, 0.8),
		products: zipf(clickProducts, 1.1),
		pages:    weights(10, 55, 15, 8, 8, 4),
		actions:  weights(75, 17, 6, 2),
	}
}

func (g *clickstream) Next(rec *Record) {
	g.clock.advance(g.r.intn(20))
	k := append(rec.Key[:0], 'u')
	k = strconv.AppendInt(k, int64(g.r.pick(g.users)+1), 10)
	rec.Key = k

	v := append(rec.Value[:0], `{"timestamp":"`...)
	v = g.clock.append(v)
	v = append(v, `","userid":"`...)
	v = append(v, k...)
	v = append(v, `","page":"`...)
	switch g.r.pick(g.pages) {
	case pageHome:
		v = append(v, '/')
	case pageProduct:
		v = append(v, "/products/"...)
		v = strconv.AppendInt(v, int64(g.r.pick(g.products)+1), 10)
	case pageCategory:
		v = append(v, "/category/"...)
		v = append(v, clickCategories[g.r.intn(len(clickCategories))]...)
	case pageSearch:
		v = append(v, "/search"...)
	case pageCart:
		v = append(v, "/cart"...)
	case pageCheckout:
		v = append(v, "/checkout"...)
	}
	v = append(v, `","action":"`...)
	v = append(v, clickActions[g.r.pick(g.actions)]...)
	rec.Value = append(v, `"}`...)
}
