package gen

import (
	"strconv"
	"time"
)

// iot emits sensor readings keyed by device:
//
//	{"device_id":"dev-0042","ts":"2024-01-01T00:00:00.004Z","temperature":21.5,"pressure":1013.2,"lat":52.51841,"lon":13.39721}
//
// 1,000 stationary devices spread around eight cities. Each device's
// temperature and pressure follow a slow random walk around its own base;
// about one reading in a thousand is a temperature spike (+15 to +25 °C),
// something for anomaly queries to find. Event time starts at
// 2024-01-01T00:00:00Z and advances 0-9 ms per record.
type iot struct {
	r     rng
	clock *clock
	dev   []device
}

type device struct {
	id          []byte // "dev-0042"
	lat, lon    float64
	temp, press float64
	baseTemp    float64
	basePress   float64
}

const iotDevices = 1000

var iotCities = [][2]float64{
	{52.5200, 13.4050},   // Berlin
	{48.8566, 2.3522},    // Paris
	{51.5074, -0.1278},   // London
	{40.7128, -74.0060},  // New York
	{35.6762, 139.6503},  // Tokyo
	{-33.8688, 151.2093}, // Sydney
	{-23.5505, -46.6333}, // São Paulo
	{1.3521, 103.8198},   // Singapore
}

func newIoT(seed int64) Generator {
	g := &iot{
		r:     newRNG(seed, 3),
		clock: newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2006-01-02T15:04:05", "Z", true),
		dev:   make([]device, iotDevices),
	}
	for i := range g.dev {
		d := &g.dev[i]
		d.id = []byte("dev-0000")
		for j, n := 7, i; j >= 4; j, n = j-1, n/10 {
			d.id[j] = byte('0' + n%10)
		}
		c := iotCities[g.r.intn(len(iotCities))]
		d.lat = c[0] + (g.r.float()-0.5)*0.4
		d.lon = c[1] + (g.r.float()-0.5)*0.4
		d.baseTemp = 15 + g.r.float()*10
		d.basePress = 1000 + g.r.float()*25
		d.temp, d.press = d.baseTemp, d.basePress
	}
	return g
}

func (g *iot) Next(rec *Record) {
	g.clock.advance(g.r.intn(10))
	d := &g.dev[g.r.intn(len(g.dev))]
	// Random walk pulled back towards the base so values stay plausible.
	d.temp += (g.r.float()-0.5)*0.4 + (d.baseTemp-d.temp)*0.05
	d.press += (g.r.float()-0.5)*0.3 + (d.basePress-d.press)*0.05
	temp := d.temp
	if g.r.intn(1000) == 0 {
		temp += 15 + g.r.float()*10
	}

	rec.Key = append(rec.Key[:0], d.id...)
	v := append(rec.Value[:0], `{"device_id":"`...)
	v = append(v, d.id...)
	v = append(v, `","ts":"`...)
	v = g.clock.append(v)
	v = append(v, `","temperature":`...)
	v = strconv.AppendFloat(v, temp, 'f', 1, 64)
	v = append(v, `,"pressure":`...)
	v = strconv.AppendFloat(v, d.press, 'f', 1, 64)
	v = append(v, `,"lat":`...)
	v = strconv.AppendFloat(v, d.lat, 'f', 5, 64)
	v = append(v, `,"lon":`...)
	v = strconv.AppendFloat(v, d.lon, 'f', 5, 64)
	rec.Value = append(v, '}')
}
