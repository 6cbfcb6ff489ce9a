package broker

import (
	"fmt"
	"strconv"
	"strings"
)

// Topic is a topic the broker creates at start if it does not exist yet.
type Topic struct {
	Name       string
	Partitions int32
}

func (t Topic) String() string { return fmt.Sprintf("%s:%d", t.Name, t.Partitions) }

// maxPartitions bounds a topic's partition count.
const maxPartitions = 100000

// ParseTopic parses the command line form NAME:PARTITIONS, for example
// "clicks:4". The partition count must be between 1 and 100000.
func ParseTopic(s string) (Topic, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return Topic{}, fmt.Errorf("topic %q: want NAME:PARTITIONS, for example clicks:4", s)
	}
	name, count := s[:i], s[i+1:]
	if err := validTopicName(name); err != nil {
		return Topic{}, fmt.Errorf("topic %q: %w", s, err)
	}
	n, err := strconv.ParseInt(count, 10, 32)
	if err != nil || n < 1 || n > maxPartitions {
		return Topic{}, fmt.Errorf("topic %q: partitions must be an integer between 1 and %d, got %q", s, maxPartitions, count)
	}
	return Topic{Name: name, Partitions: int32(n)}, nil
}

// validTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("invalid topic name %q", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is longer than 249 characters")
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("invalid character %q in topic name %q (allowed: letters, digits, '.', '_', '-')", r, name)
		}
	}
	return nil
}
