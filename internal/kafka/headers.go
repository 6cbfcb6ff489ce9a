package kafka

import (
	"encoding/binary"
	"errors"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// appendHeaders appends hs to dst in the encoding of DecodeHeaders: per
// header, the key's length (uvarint), the key, the value's length (varint,
// -1 for a nil value) and the value.
func appendHeaders(dst []byte, hs []ckafka.Header) []byte {
	for _, h := range hs {
		dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
		dst = append(dst, h.Key...)
		if h.Value == nil {
			dst = binary.AppendVarint(dst, -1)
			continue
		}
		dst = binary.AppendVarint(dst, int64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

var errBadHeaders = errors.New("kafka: corrupt encoded headers")

// DecodeHeaders decodes Record.Headers; the values are copies.
func DecodeHeaders(b []byte) ([]Header, error) {
	var out []Header
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errBadHeaders
		}
		key := string(b[k : k+int(n)])
		b = b[k+int(n):]
		vn, k := binary.Varint(b)
		if k <= 0 || vn < -1 || int64(len(b)-k) < vn {
			return nil, errBadHeaders
		}
		b = b[k:]
		var val []byte
		if vn >= 0 {
			val = append([]byte{}, b[:vn]...)
			b = b[vn:]
		}
		out = append(out, Header{Key: key, Value: val})
	}
	return out, nil
}
