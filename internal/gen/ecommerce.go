package gen

import (
	"strconv"
	"time"
)

// ecommerce emits CSV lines with the columns of Kaggle's "eCommerce
// behavior data from multi category store", keyed by user_id:
//
//	event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
//	2019-11-01 00:00:01 UTC,view,17302664,2053013553853497655,,creed,28.31,561587266,755422e7-9040-477b-9bd2-6a6e8fd97387
//
// No header line. A catalog of 20,000 products in 300 categories is drawn
// from the seed: about 35% of categories have no category_code and about
// 15% of products no brand, as in the Kaggle data. 50,000 users (Zipf) each
// have a session UUID that rotates now and then. The funnel is stateful:
// 94% of events are views, 4.3% add to the cart the product the user last
// viewed, 1.7% purchase the product the user last put in the cart. Event
// time starts at 2019-11-01 00:00:00 UTC and advances 0-79 ms per record.
type ecommerce struct {
	r       rng
	clock   *clock
	users   cdf
	prods   cdf
	events  cdf
	catalog [][]byte // per product: "product_id,category_id,category_code,brand,price"
	userIDs []int64
	session [][16]byte
	// lastView and lastCart are per-user product indexes, -1 for none.
	lastView, lastCart []int32
}

const (
	ecoProducts   = 20000
	ecoCategories = 300
	ecoUsers      = 50000
)

var ecoCategoryCodes = []string{
	"electronics.smartphone", "electronics.audio.headphone", "electronics.video.tv",
	"electronics.clocks", "electronics.tablet", "computers.notebook",
	"computers.desktop", "computers.peripherals.printer", "appliances.kitchen.refrigerators",
	"appliances.kitchen.washer", "appliances.environment.vacuum", "appliances.kitchen.kettle",
	"apparel.shoes", "apparel.shoes.keds", "apparel.costume", "furniture.living_room.sofa",
	"furniture.bedroom.bed", "furniture.kitchen.table", "auto.accessories.player",
	"construction.tools.drill", "kids.toys", "sport.bicycle", "accessories.bag",
	"country_yard.lawn_mower", "stationery.cartrige", "medicine.tools.tonometer",
}

var ecoBrands = []string{
	"samsung", "apple", "xiaomi", "huawei", "lucente", "bosch", "lg", "oppo", "sony",
	"acer", "lenovo", "cordiant", "hp", "respect", "indesit", "casio", "elenberg",
	"asus", "artel", "pioneer", "creed", "philips", "redmond", "polaris", "vitek",
	"janome", "canon", "haier", "tefal", "karcher", "beko", "nokia", "garmin",
	"michelin", "adidas", "nike", "puma", "lego", "hasbro", "sokolov", "shiseido",
}

// Event kinds, in the order of ecommerce.events' weights.
const (
	ecoView = iota
	ecoCart
	ecoPurchase
)

var ecoEventNames = []string{"view", "cart", "purchase"}

func newEcommerce(seed int64) Generator {
	g := &ecommerce{
		r:        newRNG(seed, 2),
		clock:    newClock(time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC), "2006-01-02 15:04:05", " UTC", false),
		users:    zipf(ecoUsers, 0.9),
		prods:    zipf(ecoProducts, 1.0),
		events:   weights(940, 43, 17),
		catalog:  make([][]byte, ecoProducts),
		userIDs:  make([]int64, ecoUsers),
		session:  make([][16]byte, ecoUsers),
		lastView: make([]int32, ecoUsers),
		lastCart: make([]int32, ecoUsers),
	}
	type category struct {
		id   int64
		code string
	}
	cats := make([]category, ecoCategories)
	for i := range cats {
		cats[i].id = 2053013552000000000 + int64(g.r.intn(10000000000))
		if g.r.float() >= 0.35 {
			cats[i].code = ecoCategoryCodes[g.r.intn(len(ecoCategoryCodes))]
		}
	}
	for i := range g.catalog {
		c := cats[g.r.intn(len(cats))]
		b := strconv.AppendInt(nil, 1000000+int64(g.r.intn(99000000)), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.id, 10)
		b = append(b, ',')
		b = append(b, c.code...)
		b = append(b, ',')
		if g.r.float() >= 0.15 {
			b = append(b, ecoBrands[g.r.intn(len(ecoBrands))]...)
		}
		b = append(b, ',')
		// Prices are skewed towards cheap items: 0.77 to about 2,600.
		cents := 77 + int64(g.r.float()*g.r.float()*g.r.float()*260000)
		b = strconv.AppendInt(b, cents/100, 10)
		b = append(b, '.', byte('0'+cents/10%10), byte('0'+cents%10))
		g.catalog[i] = b
	}
	for i := range g.userIDs {
		g.userIDs[i] = 512000000 + int64(g.r.intn(100000000))
		g.newSession(i)
		g.lastView[i], g.lastCart[i] = -1, -1
	}
	return g
}

// newSession gives user u a fresh version-4 UUID.
func (g *ecommerce) newSession(u int) {
	s := &g.session[u]
	a, b := g.r.src.Uint64(), g.r.src.Uint64()
	for i := 0; i < 8; i++ {
		s[i], s[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	s[6] = s[6]&0x0f | 0x40
	s[8] = s[8]&0x3f | 0x80
}

func (g *ecommerce) Next(rec *Record) {
	g.clock.advance(g.r.intn(80))
	u := g.r.pick(g.users)
	if g.r.intn(30) == 0 {
		g.newSession(u)
	}
	ev := g.r.pick(g.events)
	var p int32
	switch {
	case ev == ecoCart && g.lastView[u] >= 0:
		p = g.lastView[u]
		g.lastCart[u] = p
	case ev == ecoPurchase && g.lastCart[u] >= 0:
		p = g.lastCart[u]
		g.lastCart[u] = -1
	default:
		ev = ecoView
		p = int32(g.r.pick(g.prods))
		g.lastView[u] = p
	}

	rec.Key = strconv.AppendInt(rec.Key[:0], g.userIDs[u], 10)
	v := g.clock.append(rec.Value[:0])
	v = append(v, ',')
	v = append(v, ecoEventNames[ev]...)
	v = append(v, ',')
	v = append(v, g.catalog[p]...)
	v = append(v, ',')
	v = append(v, rec.Key...)
	v = append(v, ',')
	rec.Value = appendUUID(v, &g.session[u])
}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, u *[16]byte) []byte {
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return b
}
