package engine

import (
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
)

// A zero field takes its default, Off switches a setting off, any other
// value is taken as given: the rule of Config's doc, field by field.
func TestConfigDefaultsAndOff(t *testing.T) {
	a := offsets.TopicPartition{Topic: "clicks", Partition: 0}
	b := offsets.TopicPartition{Topic: "clicks", Partition: 1}
	c := offsets.TopicPartition{Topic: "clicks", Partition: 2}
	zero := Config{Source: KafkaSource{MaxRateOverrides: map[offsets.TopicPartition]int64{a: 0, b: Off, c: 7}}}.resolved()
	d := DefaultConfig()
	if zero.Source.StartingOffsets != "latest" || zero.Source.MaxRatePerPartition != 0 ||
		zero.Source.FetchOffsetNumRetries != 3 || zero.Source.FetchOffsetRetryInterval != time.Second ||
		zero.Source.PartitionDiscoveryInterval != time.Second || zero.Trigger.ProcessingTime != 0 ||
		zero.Mode != dataframe.Permissive || zero.Executors != runtime.GOMAXPROCS(0) ||
		zero.MaxOffsetsPerTask != 0 || zero.StopTimeout != 30*time.Second ||
		zero.Allocator == nil || zero.Logger == nil {
		t.Errorf("zero Config resolved to %+v", zero)
	}
	// 0: the default (the entry goes); Off: 0, no cap for that partition.
	if want := map[offsets.TopicPartition]int64{b: 0, c: 7}; !reflect.DeepEqual(zero.Source.MaxRateOverrides, want) {
		t.Errorf("overrides %v, want %v", zero.Source.MaxRateOverrides, want)
	}
	if d.Source.FetchOffsetNumRetries != zero.Source.FetchOffsetNumRetries || d.StopTimeout != zero.StopTimeout {
		t.Error("DefaultConfig and the resolved zero Config differ")
	}
	off := Config{
		Source:            KafkaSource{MaxRatePerPartition: Off, FetchOffsetNumRetries: Off, FetchOffsetRetryInterval: Off, PartitionDiscoveryInterval: Off},
		Trigger:           Trigger{ProcessingTime: Off},
		MaxOffsetsPerTask: Off,
		StopTimeout:       Off,
	}.resolved()
	if off.Source.MaxRatePerPartition != 0 || off.Source.FetchOffsetNumRetries != 0 || off.Source.FetchOffsetRetryInterval != 0 ||
		off.Source.PartitionDiscoveryInterval != 0 || off.Trigger.ProcessingTime != 0 || off.MaxOffsetsPerTask != 0 || off.StopTimeout != 0 {
		t.Errorf("Off resolved to %+v", off)
	}
	set := Config{
		Source:      KafkaSource{StartingOffsets: "earliest", MaxRatePerPartition: 5, FetchOffsetNumRetries: 1, FetchOffsetRetryInterval: time.Millisecond, PartitionDiscoveryInterval: time.Minute},
		Executors:   3,
		StopTimeout: time.Second,
	}.resolved()
	if set.Source.StartingOffsets != "earliest" || set.Source.MaxRatePerPartition != 5 || set.Source.FetchOffsetNumRetries != 1 ||
		set.Source.FetchOffsetRetryInterval != time.Millisecond || set.Source.PartitionDiscoveryInterval != time.Minute ||
		set.Executors != 3 || set.StopTimeout != time.Second {
		t.Errorf("set values resolved to %+v", set)
	}
}

// Settings documents every exported field of Config (through Source and
// Trigger) and ConsoleOptions, and nothing else.
func TestSettingsCoverConfig(t *testing.T) {
	want := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type == reflect.TypeOf(KafkaSource{}) || f.Type == reflect.TypeOf(Trigger{}) || f.Type == reflect.TypeOf(DeadLetter{}) || f.Type == reflect.TypeOf(Backpressure{}) || f.Type == reflect.TypeOf(Watermark{}) {
				walk(prefix+f.Name+".", f.Type)
				continue
			}
			want[prefix+f.Name] = true
		}
	}
	walk("", reflect.TypeOf(Config{}))
	walk("ConsoleOptions.", reflect.TypeOf(ConsoleOptions{}))
	for _, s := range Settings() {
		if !want[s.Field] {
			t.Errorf("Settings documents %s, which is not a field", s.Field)
		}
		if s.Doc == "" {
			t.Errorf("%s has no doc", s.Field)
		}
		delete(want, s.Field)
	}
	for f := range want {
		t.Errorf("Settings does not document %s", f)
	}
}
