package dataframe

type csvDecoder struct {
	*decoderBase
}

func newCSVDecoder(b *decoderBase) *csvDecoder { return &csvDecoder{decoderBase: b} }

func (d *csvDecoder) Append(meta *RecordMeta, value []byte) error {
	return d.finish(meta, &malformed{reason: "CSV decoding not implemented yet"})
}
