package dataframe

type jsonDecoder struct {
	*decoderBase
}

func newJSONDecoder(b *decoderBase) *jsonDecoder { return &jsonDecoder{decoderBase: b} }

func (d *jsonDecoder) Append(meta *RecordMeta, value []byte) error {
	return d.finish(meta, &malformed{reason: "JSON decoding not implemented yet"})
}
